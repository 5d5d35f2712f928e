"""The httpx transport of ``AsyncClient``'s direct connections: httpcore's HTTP/1.1
connections over :class:`AsyncioBackend`, in a pool of our own.

Why not httpx's ``AsyncHTTPTransport``: its pool (httpcore's ``AsyncConnectionPool``)
looks at every connection, in a nested loop, each time a request starts or ends; hands
one idle connection to several waiting requests at once, all but one of which then go
round again; and closes every idle connection whenever more than
``max_keepalive_connections`` are open, busy ones counted, so concurrent calls reconnect
each time. With 64 concurrent streams that was about a quarter of the client's CPU
(docs/benchmarks.md). Here the idle connections are a stack, most recently used on top,
and a connection goes back on it when its answer has been read.

httpx still does everything above the transport (URLs, headers, timeouts, streaming),
and httpcore speaks HTTP. httpcore's exceptions become their httpx namesakes, as an
httpx transport must raise. Behind a proxy, ``AsyncTransport`` uses httpx's own
transport instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import cast

import httpcore
import httpx

from ._asyncio_network import AsyncioBackend, within


class DirectTransport(httpx.AsyncBaseTransport):
    """At most ``limits.max_connections`` requests at once (more wait, up to the pool
    timeout), and besides them at most ``limits.max_keepalive_connections`` idle
    connections, each kept ``limits.keepalive_expiry`` seconds. Certificates are verified
    as httpx does by default (certifi, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``)."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._ssl_context = httpx.create_ssl_context()
        self._backend = AsyncioBackend()
        self._keepalive_expiry = limits.keepalive_expiry
        self._max_idle = limits.max_keepalive_connections
        self._slots = asyncio.Semaphore(limits.max_connections or 2**31)
        self._idle: list[httpcore.AsyncHTTPConnection] = []  # the most recently used last
        self._busy: set[httpcore.AsyncHTTPConnection] = set()

    @property
    def connections(self) -> list[httpcore.AsyncHTTPConnection]:
        """The open connections, idle and busy (as httpcore's pool lists them, for debugging)."""
        return [*self._idle, *self._busy]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url.scheme}://'.")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw, content=cast(AsyncIterable[bytes], request.stream),
            extensions=request.extensions)
        await self._take_slot(request.extensions.get("timeout", {}).get("pool"))
        try:
            with httpx_errors():
                connection, response = await self._send(core_request)
        except BaseException:
            self._slots.release()
            raise
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_Body(self, connection, cast(AsyncIterable[bytes], response.stream)),
                              extensions=response.extensions)

    async def _take_slot(self, timeout: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # returns at once
            return
        try:
            await within(self._slots.acquire(), timeout)
        except TimeoutError:
            raise httpx.PoolTimeout("every connection of the pool stayed busy") from None

    async def _send(self, request: httpcore.Request) -> tuple[httpcore.AsyncHTTPConnection, httpcore.Response]:
        while True:
            connection = await self._idle_connection(request.url.origin) or httpcore.AsyncHTTPConnection(
                request.url.origin, ssl_context=self._ssl_context, keepalive_expiry=self._keepalive_expiry,
                network_backend=self._backend)
            self._busy.add(connection)
            try:
                return connection, await connection.handle_async_request(request)
            except BaseException as error:
                self._busy.discard(connection)
                await connection.aclose()
                if not isinstance(error, httpcore.ConnectionNotAvailable):
                    raise  # otherwise it closed between our look and its use: take another

    async def _idle_connection(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection | None:
        """The most recently used idle connection to ``origin`` that is still good. The expired or
        server-closed ones met on the way are closed after the search: other tasks change the
        list while this one awaits."""
        found, stale = None, []
        for index in range(len(self._idle) - 1, -1, -1):
            connection = self._idle[index]
            if not connection.can_handle_request(origin):
                continue
            del self._idle[index]
            if connection.is_available() and not connection.has_expired():
                found = connection
                break
            stale.append(connection)
        try:
            while stale:
                await stale[-1].aclose()
                stale.pop()
        except BaseException:  # cancelled: what is left is closed by a later search, or by aclose()
            self._idle[:0] = stale
            if found is not None:
                self._idle.append(found)
            raise
        return found

    async def put_back(self, connection: httpcore.AsyncHTTPConnection) -> None:
        """After an answer's body is closed: its connection is idle again, unless it was closed."""
        self._slots.release()
        self._busy.discard(connection)
        if connection.is_closed():
            return
        if not connection.is_idle():  # closing the answer was cut short (cancelled): no telling its state
            await connection.aclose()
            return
        self._idle.append(connection)
        if self._max_idle is not None and len(self._idle) > self._max_idle:
            await self._idle.pop(0).aclose()

    async def aclose(self) -> None:
        connections = self._idle + list(self._busy)
        self._idle.clear()
        self._busy.clear()
        for connection in connections:
            await connection.aclose()


class _Body(httpx.AsyncByteStream):
    """An answer's body: httpcore's stream, its errors told as httpx's, and its connection
    put back in the pool when it is closed (httpx closes it once read, or on any error)."""

    def __init__(self, transport: DirectTransport, connection: httpcore.AsyncHTTPConnection,
                 stream: AsyncIterable[bytes]) -> None:
        self._transport = transport
        self._connection = connection
        self._stream = stream
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            with httpx_errors():
                async for part in self._stream:
                    yield part
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._stream, "aclose", None)
            if close is not None:
                with httpx_errors():
                    await close()
        finally:
            await self._transport.put_back(self._connection)


@contextlib.contextmanager
def httpx_errors() -> Iterator[None]:
    """Raise httpcore's exceptions as the most specific httpx exception of the same name
    (httpcore's are named after httpx's: ``ReadTimeout``, ``ConnectError``, ...)."""
    try:
        yield
    except Exception as exc:
        for cls in type(exc).__mro__:
            if cls.__module__ == "httpcore" and isinstance(getattr(httpx, cls.__name__, None), type):
                raise getattr(httpx, cls.__name__)(str(exc)) from exc
        raise
