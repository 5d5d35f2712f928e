"""Small raw HTTP/1.1 servers on loopback, for the tests of ``AsyncClient``'s own httpx transport
(``_direct_transport``) and its asyncio network layer (``_asyncio_network``): a server of a few
lines that counts its connections, records what it was sent and answers as each test tells it,
plainly or over TLS with the test certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

TLS = Path(__file__).parent / "tls"  # a self-signed certificate for localhost and 127.0.0.1, for tests only
Reply = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """An HTTP/1.1 server on loopback that counts the connections it accepts and records each
    request's head and body (plain or chunked); ``reply`` writes each answer (given the request's
    head) and may close the connection."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.accepted = 0
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.closed = asyncio.Event()  # set whenever the server has closed a connection
        self.handlers: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = await read_body(head, reader)
                self.heads.append(head)
                self.bodies.append(body)
                await self.reply(head, writer)
                if writer.is_closing():
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError, ssl.SSLError):
            pass  # the client went away, or the test is over (a handler must not end cancelled)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError, ssl.SSLError):
                await writer.wait_closed()
            self.closed.set()

    def open_connections(self) -> int:
        """How many connections the server still has open."""
        return sum(not task.done() for task in self.handlers)


async def read_body(head: bytes, reader: asyncio.StreamReader) -> bytes:
    """The body of the request whose head is ``head``: chunked, or of its Content-Length (none: empty)."""
    lower = head.lower()
    if b"transfer-encoding: chunked" not in lower:
        length = next((int(line.split(b":")[1]) for line in lower.split(b"\r\n")
                       if line.startswith(b"content-length:")), 0)
        return await reader.readexactly(length)
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        body += (await reader.readexactly(size + 2))[:-2]
        if size == 0:
            return body


@contextlib.asynccontextmanager
async def raw_server(reply: Reply, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[RawServer, str]]:
    """A ``RawServer`` listening on a free port of 127.0.0.1, and its base URL (``https`` with ``tls``)."""
    server = RawServer(reply)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield server, f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        listening.close()
        for handler in server.handlers:
            handler.cancel()
        await asyncio.gather(*server.handlers)
        await listening.wait_closed()


def answer(body: bytes, *, close: bool = False, delay: float = 0.0, headers: bytes = b"") -> Reply:
    """A reply of 200 with the JSON ``body`` and any extra ``headers`` (whole lines), after
    ``delay`` seconds; with ``close`` the server then closes the connection."""
    async def reply(head: bytes, writer: asyncio.StreamWriter) -> None:
        if delay:
            await asyncio.sleep(delay)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%s"
                     b"Content-Length: %d\r\n\r\n%s" % (headers, len(body), body))
        await writer.drain()
        if close:  # without "Connection: close" in headers: as a server whose keep-alive ran out
            writer.close()

    return reply


def server_tls() -> ssl.SSLContext:
    """The server's side of TLS with the test certificate."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    return tls
