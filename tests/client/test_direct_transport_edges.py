"""Edge cases of ``AsyncClient``'s own httpx transport (``_direct_transport``) and its asyncio
network layer (``_asyncio_network``), against the raw servers of ``raw_http`` over real loopback
sockets, held to what httpcore's own ``AsyncConnectionPool`` on ``AnyIOBackend`` (httpx's
``AsyncHTTPTransport``) does.

A request cancelled at any loop turn (connecting, the TLS handshake, sending, reading, closing
its answer) loses no pool slot and leaves no socket open; TLS fails at once on a connection the
server has closed; answers ended by the server's close arrive whole, read slowly; timeouts,
early answers, upgrades, idle expiry and a loop closed at once behave as httpcore's pool does.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import ssl
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpcore
import httpx
import pytest

from shared_client._asyncio_network import AsyncioBackend
from shared_client._direct_transport import DirectTransport
from tests.client.raw_http import TLS, RawServer, answer, raw_server, server_tls


def client_for(transport: DirectTransport, **timeouts: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(timeouts.pop("default", 5), **timeouts))


def assert_pool_consistent(transport: DirectTransport, max_connections: int) -> None:
    """No slot lost, nothing busy, and every idle connection really idle and open."""
    assert transport._slots._value == max_connections, "a slot leaked"  # type: ignore[attr-defined]
    assert not transport._busy, f"busy after the request ended: {transport._busy}"
    for connection in transport._idle:
        assert connection.is_idle() and not connection.is_closed(), f"bad idle connection {connection}"


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


@contextlib.contextmanager
def client_leaks(port: int) -> Iterator[list[str]]:
    """The ResourceWarnings (unclosed sockets and transports) of the client's side of connections
    to ``port`` that garbage collection finds at the end; the test servers' own are not counted."""
    def client_side(warning: warnings.WarningMessage) -> bool:
        if f"raddr=('127.0.0.1', {port})" in str(warning.message):
            return True
        try:
            return warning.source.get_extra_info("peername")[1] == port  # type: ignore[union-attr]
        except Exception:
            return False

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        found: list[str] = []
        yield found
        for _ in range(3):
            gc.collect()
        found.extend(str(w.message) for w in caught if issubclass(w.category, ResourceWarning) and client_side(w))


def leaked_now(port: int) -> list[str]:
    with client_leaks(port) as found:
        pass
    return found


def suspended_at(task: asyncio.Task[object]) -> str:
    """Where ``task`` waits: the innermost frames of its chain of awaits."""
    frames, coro = [], task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            frames.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return " > ".join(frames[-3:])


async def until(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


# --- cancelled mid-request: no socket left open -----------------------------------------------

async def test_cancelled_while_closing_an_answer_the_connection_is_closed(no_proxy: None) -> None:
    """A task cancelled while it closes an answer leaves no socket open: ``response.aclose()``
    waits in httpcore's ``_response_closed`` on an anyio lock (one loop turn), and a cancellation
    landing there leaves the HTTP/1.1 connection active and open. ``put_back`` closes such a
    connection; it used to drop it from ``_busy`` unclosed, open until garbage collection and
    unknown to the pool's ``aclose()``. (httpcore's pool keeps it and closes it in ``aclose()``.)"""
    async with raw_server(answer(b"0123456789")) as (server, url):
        with client_leaks(port_of(url)) as leaked:
            transport = DirectTransport(httpx.Limits(max_connections=10))
            client = client_for(transport)
            response = await client.send(client.build_request("GET", url), stream=True)
            [connection] = transport.connections
            async for _ in response.stream:  # type: ignore[union-attr]  # read it all, not yet closed
                pass
            closing = asyncio.create_task(response.aclose())
            await asyncio.sleep(0)  # closing runs up to its first await: httpcore's state lock
            closing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await closing
            assert transport._slots._value == 10  # type: ignore[attr-defined]  # the slot did come back
            await client.aclose()
            still_open = not connection.is_closed()
            server_saw_close = await until(lambda: server.open_connections() == 0, 0.5)
            del connection, response
        assert not still_open, "the connection is neither in the pool nor closed"
        assert server_saw_close, "the server still sees the connection open after client.aclose()"
        assert not leaked, leaked


async def test_cancelled_at_the_end_of_aread_the_connection_is_closed(no_proxy: None) -> None:
    """The same through the ordinary path: ``await response.aread()`` (as ``AsyncTransport.send``
    does) closes the answer when its body ends, and a timeout (``asyncio.wait_for`` /
    ``asyncio.timeout``) that cancels the caller at any loop turn of the read, that one included,
    leaves the pool consistent and every connection pooled or closed."""
    async with raw_server(answer(b"0123456789")) as (server, url):
        with client_leaks(port_of(url)) as leaked:
            transport = DirectTransport(httpx.Limits(max_connections=10))
            client = client_for(transport)
            connections = []
            for turns in range(20):
                response = await client.send(client.build_request("GET", url), stream=True)
                connections.extend(transport._busy)
                reading = asyncio.create_task(response.aread())
                for _ in range(turns):
                    await asyncio.sleep(0)
                if reading.done():
                    await reading
                    break
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
                await response.aclose()  # as the caller's finally does: a no-op, httpx marked it closed
                assert_pool_consistent(transport, 10)
            await client.aclose()
            not_closed = [c for c in connections if not c.is_closed()]
            server_saw_close = await until(lambda: server.open_connections() == 0, 0.5)
            del connections, response
        assert not not_closed, f"neither pooled nor closed: {not_closed}"
        assert server_saw_close, "the server still sees connections open after client.aclose()"
        assert not leaked, leaked


async def test_connect_cancelled_after_the_socket_connected_closes_it(no_proxy: None) -> None:
    """``connect_tcp`` cancelled at any loop turn, those between the socket connecting and
    ``create_connection`` returning included, leaves no socket open. It passes no
    ``happy_eyeballs_delay``: with one, asyncio (Python 3.10 to 3.13) connects in tasks of
    ``staggered_race`` and drops the race's winning socket unclosed when the caller is cancelled
    in those turns ("unclosed <socket.socket ...>", open to the server until GC). anyio, which
    httpcore used, closes the winner and does not race at all for an IP address."""
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await reader.read()
        writer.close()

    listening = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    backend = AsyncioBackend()
    leaks: dict[int, list[str]] = {}
    try:
        for turns in range(40):
            connecting = asyncio.create_task(backend.connect_tcp("127.0.0.1", port, timeout=5))
            for _ in range(turns):
                await asyncio.sleep(0)
            if connecting.done():
                await (await connecting).aclose()
                break
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            for _ in range(5):
                await asyncio.sleep(0)
            if found := leaked_now(port):
                leaks[turns] = found
    finally:
        listening.close()
    assert not leaks, f"cancelled after these many loop turns, the socket leaked: {sorted(leaks)}"


async def test_a_request_cancelled_while_connecting_leaks_no_socket(no_proxy: None) -> None:
    """The same through the whole transport: a request cancelled at any loop turn while it
    opens its connection (a fresh one per request) leaves no socket open."""
    async with raw_server(answer(b"{}")) as (_, url):
        transport = DirectTransport(httpx.Limits(max_connections=5, max_keepalive_connections=0))
        client = client_for(transport)
        leaks: dict[int, str] = {}
        for turns in range(60):
            task = asyncio.create_task(client.get(url))
            for _ in range(turns):
                await asyncio.sleep(0)
            if task.done():
                break
            where = suspended_at(task)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for _ in range(5):
                await asyncio.sleep(0)
            if leaked_now(port_of(url)):
                leaks[turns] = where
        await client.aclose()
    assert not leaks, f"leaked a socket when cancelled at: {leaks}"


# --- TLS over a connection the server closes --------------------------------------------------

async def test_a_large_tls_answer_whose_server_then_closes_read_slowly(no_proxy: None, trust_test_cert: None) -> None:
    """A large TLS answer whose server closes (``Connection: close``) while more than
    ``PAUSE_READING_AT`` bytes wait unread arrives whole when read slowly. Taking those bytes
    does not resume reading a transport that has ended: Python 3.10's
    ``_SSLProtocolTransport.resume_reading`` then calls ``resume_reading()`` on ``None``, and a
    bare ``AttributeError`` came out of ``read()``, the answer lost. (Plain TCP transports, and
    TLS ones from Python 3.11, ignore a resume after closing.)"""
    body = bytes(range(256)) * 4096  # 1 MiB

    async with raw_server(answer(body, headers=b"Connection: close\r\n", close=True), server_tls()) as (_, url):
        transport = DirectTransport(httpx.Limits(max_connections=2))
        async with client_for(transport) as client, client.stream("GET", url) as response:
            parts = []
            async for part in response.aiter_raw():  # slower than the network: reading pauses and resumes
                parts.append(part)
                await asyncio.sleep(0.002)
        assert b"".join(parts) == body
        assert_pool_consistent(transport, 2)


async def test_tls_on_a_connection_the_server_already_closed_fails_at_once(no_proxy: None) -> None:
    """``start_tls`` on a connection whose server has already hung up (overloaded, or a balancer
    without a backend) is an immediate ``ConnectError``, as with anyio (whose TLS send on a
    closed stream raises). Once the server's FIN is read the transport has closed, and
    ``loop.start_tls`` would write its ClientHello into it (dropped silently) and wait for an
    answer that never comes: ``ConnectTimeout`` after the whole connect timeout (60 s, asyncio's
    handshake timeout, with none)."""
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listening = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    tls = ssl.create_default_context(cafile=str(TLS / "cert.pem"))
    try:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        await asyncio.sleep(0.1)  # the server's FIN is read: the transport closes itself
        started = asyncio.get_running_loop().time()
        with pytest.raises(httpcore.ConnectError):
            await stream.start_tls(tls, server_hostname="127.0.0.1", timeout=1.0)
        assert asyncio.get_running_loop().time() - started < 0.5
        await stream.aclose()
    finally:
        listening.close()


async def test_https_to_a_server_that_hangs_up_at_once_fails_at_once(no_proxy: None, trust_test_cert: None) -> None:
    """The same through the whole transport: each attempt against a server that hangs up on
    every accept (a thread of its own) fails at once, whether or not its FIN came before the TLS
    handshake began (about one attempt in three used to wait for the connect timeout)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    port = listener.getsockname()[1]

    def hang_up() -> None:
        with contextlib.suppress(OSError):
            while True:
                listener.accept()[0].close()

    threading.Thread(target=hang_up, daemon=True).start()
    slow = []
    try:
        async with client_for(DirectTransport(httpx.Limits(max_connections=2)), connect=2) as client:
            for _ in range(6):
                started = asyncio.get_running_loop().time()
                with pytest.raises(httpx.TransportError) as caught:
                    await client.get(f"https://127.0.0.1:{port}/")
                if asyncio.get_running_loop().time() - started > 0.5:
                    slow.append(type(caught.value).__name__)
    finally:
        listener.close()
    assert not slow, f"attempts that waited for the connect timeout: {slow}"


# --- other schemes ----------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1/x", "socks4://127.0.0.1:1/x"])
async def test_an_unsupported_scheme_is_unsupported_protocol(url: str) -> None:
    """A URL of a scheme other than http and https is ``httpx.UnsupportedProtocol``, as httpcore's
    pool checks the scheme first ("Request URL has an unsupported protocol 'ftp://'"); without
    that check ``httpcore.URL.origin`` looks the default port up in a dict and raised a bare
    ``KeyError: b'ftp'``, which ``_async_transport`` does not turn into ``NetworkError``.
    (``_config`` refuses such a ``base_url``: through ``AsyncClient`` only misuse reaches this.)"""
    async with client_for(DirectTransport(httpx.Limits(max_connections=2))) as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.get(url)


# --- a whole request cancelled at every loop turn ---------------------------------------------

async def _cancel_at_every_turn(url: str, limits: httpx.Limits, server: RawServer | None, *,
                                reuse: bool, method: str = "GET",
                                content: Callable[[], object] | None = None) -> dict[int, str]:
    """Send one request per loop-turn count k, cancelled after k turns, until one completes
    before its cancellation. With ``reuse``, a complete request first leaves an idle connection
    for it. After each: the request ended cancelled, the pool is consistent and no client socket
    has leaked. Returns what went wrong, by k, with where the request was suspended when cancelled."""
    transport = DirectTransport(limits)
    client = client_for(transport)
    assert limits.max_connections is not None
    leaks: dict[int, str] = {}

    def send() -> Awaitable[httpx.Response]:
        return client.request(method, url, **({} if content is None else {"content": content()}))  # type: ignore[arg-type]

    for turns in range(400):
        if reuse:
            assert (await send()).status_code == 200
        task = asyncio.create_task(send())  # type: ignore[arg-type]
        for _ in range(turns):
            await asyncio.sleep(0)
        if task.done():
            assert (await task).status_code == 200
            break
        where = suspended_at(task)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if not task.cancelled():  # it went on as if not cancelled
            leaks[turns] = f"{where} (the cancellation was lost)"
        assert_pool_consistent(transport, limits.max_connections)
        for _ in range(5):
            await asyncio.sleep(0)
        if leaked_now(port_of(url)):
            leaks[turns] = where
        if server is not None and not await until(lambda: server.open_connections() == len(transport._idle), 0.3):
            leaks[turns] = f"{where} (a connection neither pooled nor closed: the server sees it open)"
    else:
        pytest.fail("the request never completed")
    assert (await send()).status_code == 200  # the pool still works after all that
    assert_pool_consistent(transport, limits.max_connections)
    await client.aclose()
    if server is not None and not await until(lambda: server.open_connections() == 0, 0.5):
        leaks[-1] = "after client.aclose() the server still sees connections open"
    return leaks


async def test_cancel_at_every_turn_plain_new_connection(no_proxy: None) -> None:
    """A plain request on a new connection, cancelled at any loop turn (those while connecting
    included), leaves no socket open."""
    async with raw_server(answer(b"{}")) as (server, url):
        leaks = await _cancel_at_every_turn(url, httpx.Limits(max_connections=5), server, reuse=False)
    assert not leaks, leaks


async def test_cancel_at_every_turn_plain_reused_connection(no_proxy: None) -> None:
    """A plain request on a reused connection, cancelled at any loop turn (that where its answer
    is being closed included), leaves no socket open."""
    async with raw_server(answer(b"{}")) as (server, url):
        leaks = await _cancel_at_every_turn(url, httpx.Limits(max_connections=5), server, reuse=True)
    assert not leaks, leaks


async def test_cancel_at_every_turn_tls_new_connection(no_proxy: None, trust_test_cert: None) -> None:
    """A TLS request on a new connection, cancelled at any loop turn (those while connecting and
    during the handshake included), leaves no socket open."""
    async with raw_server(answer(b"{}"), server_tls()) as (_, url):
        leaks = await _cancel_at_every_turn(url, httpx.Limits(max_connections=5), None, reuse=False)
    assert not leaks, leaks


async def test_cancel_at_every_turn_tls_reused_connection(no_proxy: None, trust_test_cert: None) -> None:
    """A TLS request on a reused connection, cancelled at any loop turn, leaves no socket open."""
    async with raw_server(answer(b"{}"), server_tls()) as (_, url):
        leaks = await _cancel_at_every_turn(url, httpx.Limits(max_connections=5), None, reuse=True)
    assert not leaks, leaks


async def test_cancel_at_every_turn_streamed_request_body(no_proxy: None) -> None:
    """A request whose body is streamed in parts, on a reused connection, cancelled at any loop
    turn (sending its body, or closing its answer), leaves no socket open; uncancelled, its body
    arrives whole."""
    async def body() -> AsyncIterator[bytes]:
        for part in (b"ab", b"cd", b"ef"):
            await asyncio.sleep(0)
            yield part

    async with raw_server(answer(b"{}")) as (server, url):
        leaks = await _cancel_at_every_turn(url, httpx.Limits(max_connections=5), server, reuse=True,
                                            method="POST", content=body)
        assert server.bodies[-1] == b"abcdef"
    assert not leaks, leaks


# --- the pool, answers and TLS ----------------------------------------------------------------

async def test_cancelled_while_waiting_for_a_slot_no_slot_is_lost(no_proxy: None) -> None:
    async with raw_server(answer(b"{}")) as (server, url):
        transport = DirectTransport(httpx.Limits(max_connections=1))
        async with client_for(transport) as client, client.stream("GET", url) as first:
            waiting = asyncio.create_task(client.get(url))
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            with pytest.raises(httpx.PoolTimeout):
                await client.get(url, timeout=httpx.Timeout(5, pool=0.05))
            await first.aread()
            assert (await client.get(url)).status_code == 200
            assert_pool_consistent(transport, 1)
    assert server.accepted == 1


async def test_connection_close_answers_are_not_reused(no_proxy: None) -> None:
    async with raw_server(answer(b"{}", headers=b"Connection: close\r\n", close=True)) as (server, url):
        transport = DirectTransport(httpx.Limits(max_connections=2))
        async with client_for(transport) as client:
            for _ in range(3):
                assert (await client.get(url)).json() == {}
                assert_pool_consistent(transport, 2)
                assert not transport._idle
    assert server.accepted == 3


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize("ending", ["close", "abort"], ids=["graceful-close", "ragged-eof"])
async def test_a_close_delimited_answer_arrives_whole(no_proxy: None, trust_test_cert: None,
                                                      tls: bool, ending: str) -> None:
    """No Content-Length: the body ends when the server closes (with TLS: with or without
    close_notify, as anyio with ``standard_compatible=False``). 3 MiB read slowly, so reading
    pauses and resumes, and the end arrives while paused."""
    body = bytes(range(256)) * 12_288

    async def reply(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" + body)
        await writer.drain()
        if ending == "abort":
            writer.transport.abort()  # no TLS close_notify
        else:
            writer.close()

    async with raw_server(reply, server_tls() if tls else None) as (_, url):
        with client_leaks(port_of(url)) as leaked:
            transport = DirectTransport(httpx.Limits(max_connections=2))
            async with client_for(transport) as client, client.stream("GET", url) as response:
                parts = []
                async for part in response.aiter_raw():
                    parts.append(part)
                    await asyncio.sleep(0.001)
            assert b"".join(parts) == body
            assert_pool_consistent(transport, 2)
            assert not transport._idle  # a close-delimited answer's connection cannot be reused
    assert not leaked, leaked


async def test_a_large_tls_answer_read_slowly(no_proxy: None, trust_test_cert: None) -> None:
    body = bytes(range(256)) * 16_384  # 4 MiB: reading pauses and resumes through the TLS transport
    async with raw_server(answer(body), server_tls()) as (server, url):
        transport = DirectTransport(httpx.Limits(max_connections=2))
        async with client_for(transport) as client:
            for _ in range(2):
                async with client.stream("GET", url) as response:
                    parts = []
                    async for part in response.aiter_raw():
                        parts.append(part)
                        await asyncio.sleep(0)
                assert b"".join(parts) == body
        assert server.accepted == 1


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_the_server_closing_mid_body_is_an_error_and_frees_everything(
        no_proxy: None, trust_test_cert: None, tls: bool) -> None:
    async def half(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        await writer.drain()
        writer.close()

    async with raw_server(half, server_tls() if tls else None) as (_, url):
        with client_leaks(port_of(url)) as leaked:
            transport = DirectTransport(httpx.Limits(max_connections=2))
            async with client_for(transport) as client:
                with pytest.raises(httpx.RemoteProtocolError, match="peer closed connection"):
                    await client.get(url)
                assert_pool_consistent(transport, 2)
                assert not transport._idle
    assert not leaked, leaked


async def test_a_reused_connection_closed_without_an_answer_is_remote_protocol_error(no_proxy: None) -> None:
    """As with httpcore's pool: no retry, ``RemoteProtocolError`` (``request_sent`` stays True)."""
    count = 0

    async def once(head: bytes, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        count += 1
        if count == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
        else:
            writer.close()  # read the second request, then hang up without answering

    async with raw_server(once) as (_, url):
        transport = DirectTransport(httpx.Limits(max_connections=2))
        async with client_for(transport) as client:
            assert (await client.get(url)).status_code == 200
            with pytest.raises(httpx.RemoteProtocolError, match="Server disconnected without sending a response"):
                await client.get(url)
            assert_pool_consistent(transport, 2)


async def test_timeouts_map_to_httpx_and_free_the_slot(no_proxy: None, trust_test_cert: None) -> None:
    async def never(head: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await reader.read()  # accepts TCP, never answers the TLS handshake
        writer.close()

    transport = DirectTransport(httpx.Limits(max_connections=2))
    async with client_for(transport, read=0.1, connect=0.1, write=0.2) as client:
        async with raw_server(never) as (_, url):  # read timeout while waiting for the headers
            with pytest.raises(httpx.ReadTimeout):
                await client.get(url)
            assert_pool_consistent(transport, 2)

        listening = await asyncio.start_server(silent, "127.0.0.1", 0)  # TLS handshake timeout
        port = listening.sockets[0].getsockname()[1]
        with client_leaks(port) as leaked:
            with pytest.raises(httpx.ConnectTimeout):
                await client.get(f"https://127.0.0.1:{port}/")
            assert_pool_consistent(transport, 2)
        listening.close()
        assert not leaked, leaked

        full = socket.socket()  # TCP connect timeout: a listener whose accept queue is full
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(full.getsockname())
            fillers.append(filler)
        try:
            with pytest.raises(httpx.ConnectTimeout):
                await client.get(f"http://127.0.0.1:{full.getsockname()[1]}/")
            assert_pool_consistent(transport, 2)
        finally:
            for sock in (*fillers, full):
                sock.close()

        writers: list[asyncio.StreamWriter] = []

        async def no_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)  # never reads: the request body fills the socket buffers

        listening = await asyncio.start_server(no_reading, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]

        async def big() -> AsyncIterator[bytes]:
            for _ in range(2000):
                yield b"y" * 65536

        with pytest.raises(httpx.WriteTimeout):  # pause_writing, then no resume_writing in time
            await client.post(f"http://127.0.0.1:{port}/", content=big())
        assert_pool_consistent(transport, 2)
        for writer in writers:
            writer.close()
        listening.close()


async def test_an_early_answer_to_an_unread_upload_is_returned(no_proxy: None) -> None:
    """The server answers 413 and hangs up without reading the body: httpcore ignores the
    WriteError and reads the answer (httpx's own transport, on anyio, raises ReadError here)."""
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.close()

    listening = await asyncio.start_server(refuse, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}/"
    transport = DirectTransport(httpx.Limits(max_connections=2))
    async with client_for(transport) as client:
        response = await client.post(url, content=b"x" * 20_000_000)
        assert (response.status_code, response.text) == (413, "big")
        assert_pool_consistent(transport, 2)
    listening.close()


async def test_informational_and_switching_protocols_answers(no_proxy: None) -> None:
    async def reply(head: bytes, writer: asyncio.StreamWriter) -> None:
        if b"upgrade: foo" in head.lower():
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\nhello")
        else:
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                         b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with raw_server(reply) as (_, url):
        transport = DirectTransport(httpx.Limits(max_connections=2))
        async with client_for(transport) as client:
            assert (await client.get(url)).text == "ok"
            async with client.stream("GET", url, headers={"Upgrade": "foo", "Connection": "Upgrade"}) as upgraded:
                assert upgraded.status_code == 101
                stream = upgraded.extensions["network_stream"]
                assert await stream.read(100) == b"hello"
                await stream.write(b"ping")
                assert stream.get_extra_info("server_addr")[1] == port_of(url)
            assert_pool_consistent(transport, 2)
            assert not transport._idle  # the upgraded connection is closed with its answer


async def test_idle_connections_expire_and_the_oldest_idle_is_closed_beyond_the_limit(no_proxy: None) -> None:
    async with raw_server(answer(b"{}", delay=0.05)) as (server, url):
        transport = DirectTransport(httpx.Limits(max_connections=10, max_keepalive_connections=2,
                                                 keepalive_expiry=0.2))
        async with client_for(transport) as client:
            await asyncio.gather(*(client.get(url) for _ in range(4)))  # 4 connections, 2 kept
            assert len(transport._idle) == 2 and server.accepted == 4
            assert await until(lambda: server.open_connections() == 2)
            await asyncio.sleep(0.3)
            assert (await client.get(url)).status_code == 200  # both expired: closed, a new one
            assert server.accepted == 5
            assert await until(lambda: server.open_connections() == 1)


async def test_a_tls_idle_connection_the_server_closed_is_not_reused(no_proxy: None, trust_test_cert: None) -> None:
    async with raw_server(answer(b"{}", close=True), server_tls()) as (server, url), \
            client_for(DirectTransport(httpx.Limits(max_connections=2))) as client:
        for _ in range(3):
            server.closed.clear()
            assert (await client.get(url)).status_code == 200
            await server.closed.wait()
            await asyncio.sleep(0.02)  # close_notify and FIN arrive
    assert server.accepted == 3


@pytest.mark.parametrize("use_tls", [False, True], ids=["plain", "tls"])
def test_closing_the_client_then_the_loop_leaves_no_socket_open(trust_test_cert: None, use_tls: bool) -> None:
    """``run_until_complete`` then ``loop.close()`` at once (no ``asyncio.run`` clean-up turns):
    ``AsyncioStream.aclose``'s one loop turn is enough, plain and TLS. The server runs in a
    thread of its own (its loop closed at the end too), so that only the client's loop closes."""
    tls = server_tls() if use_tls else None
    started, finished = threading.Event(), threading.Event()
    urls: list[str] = []

    async def serve() -> None:
        async with raw_server(answer(b"{}"), tls) as (_, served):
            urls.append(served + "/")
            started.set()
            while not finished.is_set():
                await asyncio.sleep(0.01)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    started.wait()
    url = urls[0]

    async def main() -> None:
        async with client_for(DirectTransport(httpx.Limits(max_connections=2))) as client:
            assert (await client.get(url)).status_code == 200

    with client_leaks(port_of(url)) as leaked:
        loop = asyncio.new_event_loop()
        loop.run_until_complete(main())
        loop.close()
    finished.set()
    thread.join(5)
    assert not leaked, leaked


async def test_tls_sends_the_host_name_for_sni_and_offers_http11(no_proxy: None, trust_test_cert: None) -> None:
    """``https://localhost``: the name is resolved (``::1`` refused, then ``127.0.0.1``), sent as
    SNI (``server_hostname``) and verified; ALPN offers only http/1.1."""
    seen: list[str | None] = []
    tls = server_tls()
    tls.set_alpn_protocols(["h2", "http/1.1"])
    tls.sni_callback = lambda sock, name, context: seen.append(name)  # type: ignore[assignment,misc]
    async with raw_server(answer(b"{}"), tls) as (_, url), \
            client_for(DirectTransport(httpx.Limits(max_connections=2))) as client, \
            client.stream("GET", url.replace("127.0.0.1", "localhost")) as response:
        ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
        assert ssl_object.selected_alpn_protocol() == "http/1.1"
        assert response.extensions["http_version"] == b"HTTP/1.1"
        await response.aread()
    assert seen == ["localhost"]


async def test_a_large_streamed_upload_over_tls(no_proxy: None, trust_test_cert: None) -> None:
    """8 MiB sent in parts: ``pause_writing`` / ``resume_writing`` through the TLS transport."""
    async def parts() -> AsyncIterator[bytes]:
        for index in range(128):
            yield bytes([index]) * 65536

    async with raw_server(answer(b"{}"), server_tls()) as (server, url):
        transport = DirectTransport(httpx.Limits(max_connections=2))
        async with client_for(transport) as client:
            assert (await client.post(url, content=parts())).status_code == 200
            assert_pool_consistent(transport, 2)
            assert len(transport._idle) == 1
    assert server.bodies[0] == b"".join(bytes([index]) * 65536 for index in range(128))
