"""httpcore's network layer on plain ``asyncio`` protocols, for ``AsyncClient``'s direct connections.

Why our own: httpcore's default backend on asyncio goes through anyio, which for every
read of a streamed answer enters and leaves a cancel scope for the timeout, and which
answers "has the server closed this idle connection?" with a ``poll()`` system call,
asked for every pooled connection each time a request starts or ends. Measured with 64
concurrent streams of 20 ms events, that was a third of the client's CPU
(docs/benchmarks.md). Here a read timeout is one ``call_later``, and whether an idle
connection was closed is already known: the protocol saw its end.

This implements httpcore's public ``AsyncNetworkBackend`` interface: httpcore still
speaks HTTP/1.1 (with h11) over it, and ``_direct_transport`` puts it under httpx.
Name resolution and connecting are asyncio's ``create_connection``, one address after
another as ``requests`` does: its happy-eyeballs race drops the winning socket unclosed
when the caller is cancelled at the wrong moment.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar, cast

import anyio
import httpcore

T = TypeVar("T")
PAUSE_READING_AT = 256 * 1024  # unread bytes at which the socket stops being read until they are taken
# httpcore's names for what it asks of a stream -> asyncio's names for the transport's extra info
_EXTRA_INFO = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername", "socket": "socket"}


class _ByteProtocol(asyncio.Protocol):
    """Collects a connection's bytes and wakes whoever waits for them (or for room to write)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None  # the TLS transport, once upgraded
        self.buffer = bytearray()
        self.ended = False  # the server closed its side, or the connection is gone
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.reader: asyncio.Future[None] | None = None
        self.writer: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= PAUSE_READING_AT and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        _wake(self.reader)

    def eof_received(self) -> bool:
        self.ended = True
        _wake(self.reader)
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        _wake(self.reader)
        _wake(self.writer)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self.writer)

    def take(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of what has arrived, reading the socket again once there is room."""
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]  # cheap: a bytearray drops its front without copying the rest
        if self.reading_paused and len(self.buffer) < PAUSE_READING_AT and self.transport is not None:
            self.reading_paused = False
            if not self.ended:  # a closed TLS transport of Python 3.10 fails to resume
                self.transport.resume_reading()
        return data

    async def until_readable(self, timeout: float | None) -> None:
        self.reader = asyncio.get_running_loop().create_future()
        try:
            await _wait(self.reader, timeout, httpcore.ReadTimeout)
        finally:
            self.reader = None

    async def until_writable(self, timeout: float | None) -> None:
        self.writer = asyncio.get_running_loop().create_future()
        try:
            await _wait(self.writer, timeout, httpcore.WriteTimeout)
        finally:
            self.writer = None


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


async def _wait(waiter: asyncio.Future[None], timeout: float | None,
                on_timeout: type[httpcore.TimeoutException]) -> None:
    """Until ``waiter`` is woken; ``on_timeout`` after ``timeout`` seconds (one timer, no task)."""
    timer = None if timeout is None else asyncio.get_running_loop().call_later(timeout, _expire, waiter, on_timeout)
    try:
        await waiter
    finally:
        if timer is not None:
            timer.cancel()


async def within(awaitable: Awaitable[T], timeout: float | None) -> T:
    """``awaitable``'s result, or ``TimeoutError`` after ``timeout`` seconds (for connecting and
    waiting for a slot: not for every read).

    Not ``asyncio.wait_for`` before Python 3.12: when the task is cancelled in the moment the
    awaited work completes, it returns the result and the cancellation is lost (a batch that
    ``gather_bounded`` cancelled went on to wait for its answer). anyio's deadline, which
    httpx already depends on, keeps it on every Python (``asyncio.timeout`` only came in 3.11).
    """
    with anyio.fail_after(timeout):
        return await awaitable


def _expire(waiter: asyncio.Future[None], error: type[httpcore.TimeoutException]) -> None:
    if not waiter.done():
        waiter.set_exception(error("timed out"))


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection, read and written by httpcore."""

    def __init__(self, transport: asyncio.Transport, protocol: _ByteProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.ended:
            await protocol.until_readable(timeout)
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(_describe(protocol.error)) from protocol.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            error = self._protocol.error
            raise httpcore.WriteError(_describe(error) if error else "the connection is closed")
        self._transport.write(buffer)
        if self._protocol.writing_paused:
            await self._protocol.until_writable(timeout)

    async def aclose(self) -> None:
        # As anyio does: one turn of the loop lets the transport's connection_lost close the
        # socket (a loop closed right after would leave it open); then a TLS shutdown that the
        # peer does not answer is cut short.
        self._transport.close()
        await asyncio.sleep(0)
        self._transport.abort()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        if self._transport.is_closing() or self._protocol.ended:  # start_tls would wait for a reply in vain
            self._transport.close()
            raise httpcore.ConnectError("the server closed the connection before the TLS handshake")
        try:
            upgrade = loop.start_tls(self._transport, self._protocol, ssl_context, server_hostname=server_hostname)
            transport = await within(upgrade, timeout)
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except (OSError, ssl.SSLError) as exc:  # ssl.SSLError is an OSError; named for the reader
            self._transport.close()
            raise httpcore.ConnectError(_describe(exc)) from exc
        if transport is None:
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = transport  # pausing and resuming now go through TLS
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # asked of idle connections: readable means the server has closed it
            return bool(self._protocol.buffer) or self._protocol.ended or self._transport.is_closing()
        name = _EXTRA_INFO.get(info)
        return None if name is None else self._transport.get_extra_info(name)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens :class:`AsyncioStream` connections for ``DirectTransport`` (TCP only: it sets no
    Unix socket path, so httpcore never asks for one)."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        connecting = loop.create_connection(_ByteProtocol, host, port,
                                            local_addr=(local_address, 0) if local_address else None)
        try:
            transport, protocol = await within(connecting, timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout("timed out connecting") from exc
        except OSError as exc:  # refused, unreachable, and name resolution (socket.gaierror)
            raise httpcore.ConnectError(_describe(exc)) from exc
        sock: socket.socket = transport.get_extra_info("socket")
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
        except OSError as exc:
            transport.close()
            raise httpcore.ConnectError(_describe(exc)) from exc
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__

