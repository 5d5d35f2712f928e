"""Streamed answers: SSE events in, :class:`StreamChunk` out, the moment each event arrives."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Generator, Iterator
from types import TracebackType

import requests

from ._sse import SSEDecoder
from ._wire import not_understood, stream_chunk
from .exceptions import NetworkError, error_from_event
from .models import StreamChunk

DONE = "[DONE]"

ReadSome = Callable[[requests.Response, str], bytes]
Release = Callable[[requests.Response], None]


class ChunkStream(Iterator[StreamChunk]):
    """An iterator over one streamed answer.

    It ends at ``[DONE]`` at once (the rest of the connection is released in the
    background); an error event raises the mapped exception; a stream cut before
    ``[DONE]`` raises :class:`NetworkError`, so a truncated answer is never taken for
    a whole one. It never requests again: once the answer has begun, a repeat could
    run (and bill) the generation twice (PROTOCOL.md section 10). ``close()``,
    leaving a ``with`` block, or dropping the iterator releases the connection.
    """

    def __init__(self, response: requests.Response, *, chat: bool, action: str, read_some: ReadSome,
                 release: Release) -> None:
        self._response: requests.Response | None = response
        self._chat = chat
        self._action = action
        self._read_some = read_some
        self._release = release
        self._closed = False
        self._chunks = self._chunks_of(response)

    def __iter__(self) -> ChunkStream:
        return self

    def __next__(self) -> StreamChunk:
        return next(self._chunks)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._chunks.close()
            if self._response is not None:
                self._response.close()
                self._response = None

    def __enter__(self) -> ChunkStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown there is nothing to release
            self.close()

    def _chunks_of(self, response: requests.Response) -> Generator[StreamChunk, None, None]:
        decoder = SSEDecoder()
        request_id = response.headers.get("X-Request-ID")
        while True:
            data = self._read_some(response, self._action)
            if not data:
                raise NetworkError(f"{self._action}: the stream was cut before [DONE]; the answer is "
                                   "incomplete.", request_id=request_id, request_sent=True)
            for event in decoder.feed(data):
                if event.data == DONE:
                    self._response = None  # the drainer owns it now
                    self._release(response)
                    return
                try:
                    payload = json.loads(event.data)
                except ValueError:
                    raise not_understood(self._action, f"a stream event is not JSON: {event.data[:80]!r}",
                                         request_id) from None
                if isinstance(payload, dict) and "error" in payload and "choices" not in payload:
                    raise error_from_event(payload["error"], self._action,
                                           payload.get("request_id") or request_id)
                yield stream_chunk(payload, self._chat, self._action, request_id)
