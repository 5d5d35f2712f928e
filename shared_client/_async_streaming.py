"""Streamed answers for the asynchronous client: bytes from httpx, chunks from the core's decoder."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from types import TracebackType

import httpx

from ._async_transport import AsyncTransport
from ._core import ChunkDecoder
from .models import StreamChunk


class AsyncChunkStream(AsyncIterator[StreamChunk]):
    """An async iterator over one streamed answer, yielding each chunk the moment its event arrives.

    The same rules as :class:`ChunkStream`: ``[DONE]`` ends it at once, an error event
    raises, a cut raises :class:`NetworkError`, and it never requests again. ``aclose()``,
    leaving ``async with``, a cancelled task, or a ``break`` followed by dropping the
    iterator releases its connection (the reading is an async generator, which the
    event loop closes when it is collected).
    """

    def __init__(self, response: httpx.Response, decoder: ChunkDecoder, transport: AsyncTransport) -> None:
        self._decoder = decoder
        self._chunks = _chunks(response, decoder, transport)  # not a method: no cycle through self

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-ID`` of the answer, if the server sent one."""
        return self._decoder.request_id

    def __aiter__(self) -> AsyncChunkStream:
        return self

    async def __anext__(self) -> StreamChunk:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        await self._chunks.aclose()

    async def __aenter__(self) -> AsyncChunkStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


async def _chunks(response: httpx.Response, decoder: ChunkDecoder,
                  transport: AsyncTransport) -> AsyncGenerator[StreamChunk, None]:
    body = response.aiter_raw()
    released = False
    try:
        while not decoder.done:
            data = await transport.read(body, decoder.action)
            if not data:
                decoder.end()
            for chunk in decoder.feed(data):
                yield chunk
        released = True
        await transport.release(response, body)
    finally:
        if not released:
            await response.aclose()
