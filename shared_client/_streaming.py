"""Streamed answers for the synchronous client: bytes from ``requests``, chunks from the core's decoder."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterator
from types import TracebackType

import requests

from ._core import ChunkDecoder
from .models import StreamChunk

ReadSome = Callable[[requests.Response, str], bytes]
Release = Callable[[requests.Response], None]


class ChunkStream(Iterator[StreamChunk]):
    """An iterator over one streamed answer, yielding each chunk the moment its event arrives.

    It ends at ``[DONE]`` at once (the rest of the connection is released in the
    background); an error event raises the mapped exception; a stream cut before
    ``[DONE]`` raises :class:`NetworkError`, so a truncated answer is never taken for
    a whole one. It never requests again: once the answer has begun, a repeat could
    run (and bill) the generation twice (docs/protocol.md section 10). ``close()``,
    leaving a ``with`` block, or dropping the iterator releases the connection.
    """

    def __init__(self, response: requests.Response, decoder: ChunkDecoder, *, read_some: ReadSome,
                 release: Release) -> None:
        self._decoder = decoder
        self._held = _Held(response)
        self._closed = False
        # The generator must not refer to self: a cycle would leave a dropped stream to the garbage
        # collector, which may finalize the socket before this object (a ResourceWarning, a late close).
        self._chunks = _chunks(self._held, decoder, read_some, release)

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-ID`` of the answer, if the server sent one."""
        return self._decoder.request_id

    def __iter__(self) -> ChunkStream:
        return self

    def __next__(self) -> StreamChunk:
        return next(self._chunks)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._chunks.close()
            self._held.close()

    def __enter__(self) -> ChunkStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown there is nothing to release
            self.close()


class _Held:
    """The open answer, until the stream closes it or hands it to ``release`` after ``[DONE]``."""

    def __init__(self, response: requests.Response) -> None:
        self.response: requests.Response | None = response

    def close(self) -> None:
        if self.response is not None:
            self.response.close()
            self.response = None


def _chunks(held: _Held, decoder: ChunkDecoder, read_some: ReadSome,
            release: Release) -> Generator[StreamChunk, None, None]:
    response = held.response
    assert response is not None
    while not decoder.done:
        data = read_some(response, decoder.action)
        if not data:
            decoder.end()
        yield from decoder.feed(data)
    held.response = None  # the drainer owns it now
    release(response)
