"""Streamed answers: chunk payloads, and sending them with the stream faults applied."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from .errors import STATUS_OF_TYPE, TYPE_OF_STATUS, ServerError
from .faults import STREAM_KINDS, Fault
from .sse import DONE, encode_event, pieces

_ARGUMENT_PIECE = 12  # characters of tool-call arguments per streamed delta
logger = logging.getLogger("indox_server")


def _chunk(head: dict[str, Any] | None, choice: dict[str, Any], usage: dict[str, Any] | None) -> dict[str, Any]:
    if head is None:  # minimal mode: the bare OpenAI-style chunk, no ids, no usage
        return {"choices": [choice]}
    return {**head, "choices": [choice], "usage": usage}


def chat_chunk(head: dict[str, Any] | None, delta: dict[str, Any], finish: str | None = None,
               usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """A chat stream chunk; ``head`` holds ``request_id``, ``provider`` and ``model`` (None: minimal)."""
    return _chunk(head, {"index": 0, "delta": delta, "finish_reason": finish}, usage)


def completion_chunk(head: dict[str, Any] | None, text: str, finish: str | None = None,
                     usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return _chunk(head, {"index": 0, "text": text, "finish_reason": finish}, usage)


def error_event(error_type: str, message: str, status: int, minimal: bool) -> dict[str, Any]:
    """The event that ends a failed stream: an error object, or the real service's plain string."""
    if minimal:
        return {"error": f"Status {status}: {message}"}
    return {"error": {"type": error_type, "message": message, "status": status}}


def tool_call_deltas(calls: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """OpenAI-style deltas: id and name first, then the arguments piece by piece."""
    for index, call in enumerate(calls):
        fn = call["function"]
        yield {"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                               "function": {"name": fn["name"], "arguments": ""}}]}
        arguments = fn["arguments"]
        for start in range(0, len(arguments), _ARGUMENT_PIECE):
            yield {"tool_calls": [{"index": index,
                                   "function": {"arguments": arguments[start:start + _ARGUMENT_PIECE]}}]}


def _fault_event(fault: Fault, minimal: bool) -> dict[str, Any]:
    error_type = fault.error_type or TYPE_OF_STATUS.get(fault.status, "internal_error")
    status = STATUS_OF_TYPE.get(error_type, fault.status)
    return error_event(error_type, "Injected fault: the stream failed.", status, minimal)


def sse_response(request: Request, path: str,
                 events: Callable[[], Iterator[dict[str, Any]]]) -> StreamingResponse:
    """Stream ``events()`` as SSE, ending in ``[DONE]``, with this request's stream faults."""
    faults = {f.kind: f for f in request.app.state.server.faults.take(path, request.method, STREAM_KINDS)}
    style = faults.get("sse_style")
    cut, failure, pause = faults.get("cut_stream"), faults.get("stream_error"), faults.get("stream_delay")
    minimal = bool(request.state.minimal)

    async def body() -> AsyncIterator[bytes]:
        sent = 0
        try:
            for payload in itertools.chain(events(), [DONE]):
                if await request.is_disconnected():  # also lets the loop see a connection that was lost
                    logger.info("%s %s (%s): the client went away mid-stream", request.method, request.url.path,
                                request.state.request_id)
                    return
                if cut is not None and sent >= cut.after_events:
                    if cut.abort:
                        await request.scope["state"]["abort"]()
                    return
                if failure is not None and sent >= failure.after_events:
                    yield encode_event(_fault_event(failure, minimal), style, sent)
                    return
                if pause is not None and sent:
                    await asyncio.sleep(pause.delay)
                for piece in pieces(encode_event(payload, style, sent), style.split if style else 0):
                    yield piece
                    if style is not None and style.split:
                        await asyncio.sleep(0.001)  # make each piece its own read
                sent += 1
            if style is not None and style.linger:
                await asyncio.sleep(style.linger)  # a proxy slow to close after [DONE]
        except ServerError as error:
            yield encode_event(error_event(error.error_type, error.detail, error.status, minimal), style, sent)
        except Exception:
            logger.exception("Stream failed (%s)", request.state.request_id)
            yield encode_event(error_event("internal_error", "The local server failed mid-stream.", 500, minimal),
                               style, sent)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
