"""``AsyncClient``'s own httpx transport (``_direct_transport``) and its asyncio network layer
(``_asyncio_network``), over real sockets: against small HTTP/1.1 servers of a few lines that
count their connections or misbehave on purpose, a TLS server, and a proxy.

The paths through the whole client (streams, cancellation, retries, logins) run against the
local server in ``test_async_client.py``; this file covers what only a raw server (``raw_http``)
can show, and ``test_direct_transport_edges.py`` its edge cases: cancellation at every loop turn,
leaked sockets, TLS over closing connections.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpcore
import httpx
import pytest

from shared_client._async_transport import LIMITS, AsyncTransport
from shared_client._direct_transport import DirectTransport, httpx_errors
from shared_client._protocol import Request
from shared_client.exceptions import NetworkError, RequestTimeoutError
from tests.client.raw_http import TLS, answer, raw_server, server_tls


def direct_client(limits: httpx.Limits = LIMITS, pool_timeout: float = 5) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=DirectTransport(limits), timeout=httpx.Timeout(5, pool=pool_timeout))


async def test_concurrent_bursts_run_on_the_same_connections(no_proxy: None) -> None:
    async with raw_server(answer(b"{}", delay=0.02)) as (server, url):
        transport = AsyncTransport(url, 5, 5)
        for _ in range(3):
            answers = await asyncio.gather(*(transport.send(Request("GET", "/x")) for _ in range(32)))
            assert [a.status for a in answers] == [200] * 32
        await transport.aclose()
    assert server.accepted == 32
    assert isinstance(transport.client._transport, DirectTransport)  # type: ignore[attr-defined]


async def test_idle_connections_are_kept_while_others_are_busy(no_proxy: None) -> None:
    """httpcore's pool closed every idle connection while more than ``max_keepalive_connections``
    were open, busy ones counted: each call made beside long streams reconnected."""
    async with raw_server(answer(b"{}")) as (server, url):
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=4)
        async with direct_client(limits) as client, \
                contextlib.AsyncExitStack() as streams:
            for _ in range(6):
                await streams.enter_async_context(client.stream("GET", url))  # busy until the end
            for _ in range(5):
                assert (await client.get(url)).status_code == 200
            assert server.accepted == 7  # httpcore's: 11


async def test_expired_connections_are_closed_while_concurrent_requests_look_for_one(no_proxy: None) -> None:
    async with raw_server(answer(b"{}", delay=0.01)) as (server, url), \
            direct_client(httpx.Limits(keepalive_expiry=0.05)) as client:
        await asyncio.gather(*(client.get(url) for _ in range(32)))
        await asyncio.sleep(0.1)  # every idle connection is now past its expiry
        answers = await asyncio.gather(*(client.get(url) for _ in range(32)))
        assert {a.status_code for a in answers} == {200}
    assert server.accepted == 64


async def test_a_connection_the_server_has_closed_is_not_used_again(no_proxy: None) -> None:
    async with raw_server(answer(b'{"ok": true}', close=True)) as (server, url), direct_client() as client:
        for _ in range(5):
            server.closed.clear()
            assert (await client.get(url)).json() == {"ok": True}
            await server.closed.wait()  # the server is done with it: its FIN is on the way
            for _ in range(3):
                await asyncio.sleep(0)  # the loop reads it
    assert server.accepted == 5


async def test_a_large_answer_arrives_whole_though_read_slowly(no_proxy: None) -> None:
    body = bytes(range(256)) * 16_384  # 4 MiB: reading the socket pauses and resumes many times
    parts = []
    async with raw_server(answer(body)) as (_, url), direct_client() as client, \
            client.stream("GET", url) as response:
        async for part in response.aiter_raw():
            parts.append(part)
            await asyncio.sleep(0)
    assert b"".join(parts) == body and len(parts) > 1


async def test_a_silent_server_times_out_on_read(no_proxy: None) -> None:
    async def stall(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{")
        await asyncio.sleep(2)

    async with raw_server(stall) as (_, url):
        transport = AsyncTransport(url, 5, 0.2)
        answer_ = await transport.send(Request("GET", "/x", stream=True))
        body = answer_.stream.aiter_raw()
        assert await transport.read(body, "GET /x") == b"{"
        with pytest.raises(RequestTimeoutError, match="GET /x timed out waiting for the server"):
            await transport.read(body, "GET /x")
        await answer_.stream.aclose()
        await transport.aclose()


async def test_the_connection_limit_makes_requests_wait_then_time_out(no_proxy: None) -> None:
    one = httpx.Limits(max_connections=1)
    async with raw_server(answer(b"{}")) as (server, url), direct_client(one, pool_timeout=0.2) as client:
        async with client.stream("GET", url) as first:
            with pytest.raises(httpx.PoolTimeout):
                await client.get(url)
            await first.aread()
        assert (await client.get(url)).status_code == 200  # the slot came back
    assert server.accepted == 1


async def test_tls_is_verified_against_the_trusted_certificates(monkeypatch: pytest.MonkeyPatch,
                                                                no_proxy: None) -> None:
    async with raw_server(answer(b'{"tls": true}'), server_tls()) as (_, url):
        async with direct_client() as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(url)  # certifi does not know this certificate
        monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "cert.pem"))  # as httpx reads it
        async with direct_client() as client:
            assert (await client.get(url)).json() == {"tls": True}
            assert (await client.get(url)).json() == {"tls": True}


async def test_a_proxy_in_the_environment_is_still_used(monkeypatch: pytest.MonkeyPatch, no_proxy: None) -> None:
    async with raw_server(answer(b'{"via": "proxy"}')) as (proxy, proxy_url):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "")
        transport = AsyncTransport("http://indox.invalid/api/v1", 5, 5)
        got = await transport.send(Request("GET", "/models"))
        await transport.aclose()
    assert got.content == b'{"via": "proxy"}'
    assert proxy.heads[0].startswith(b"GET http://indox.invalid/api/v1/models HTTP/1.1")


async def test_a_refused_connection_is_a_network_error_before_sending(no_proxy: None, dead_url: str) -> None:
    transport = AsyncTransport(dead_url, 5, 5)
    with pytest.raises(NetworkError) as caught:
        await transport.send(Request("POST", "/chat/completions", b"{}"))
    await transport.aclose()
    assert caught.value.request_sent is False


@pytest.mark.parametrize(("raised", "expected"), [
    (httpcore.ReadTimeout("slow"), httpx.ReadTimeout),
    (httpcore.ConnectTimeout("slow"), httpx.ConnectTimeout),
    (httpcore.PoolTimeout("busy"), httpx.PoolTimeout),
    (httpcore.ConnectError("refused"), httpx.ConnectError),
    (httpcore.ReadError("reset"), httpx.ReadError),
    (httpcore.RemoteProtocolError("bad"), httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError("bad"), httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol("ftp"), httpx.UnsupportedProtocol),
])
def test_httpcore_errors_become_their_httpx_namesakes(raised: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected, match=str(raised)) as caught, httpx_errors():
        raise raised
    assert type(caught.value) is expected and caught.value.__cause__ is raised


def test_other_errors_pass_unchanged() -> None:
    with pytest.raises(KeyError), httpx_errors():
        raise KeyError("x")
