"""The bodies the local server answers with: the success envelope and errors.

In minimal mode (``request.state.minimal``, set by the middleware for the
native API while the server's minimal switch is on) they shrink to what a
minimal real server sends and the official client reads: success bodies are
``{"success", "message", "data", "raw_response"}`` (no ``request_id``,
``provider``, ``model``, ``usage``, ``finish_reason``, ``tool_calls`` or
``dimensions``; ``raw_response`` without ``usage`` and ``model``), and errors
are FastAPI's ``{"detail": ...}`` (see ``errors.error_payload``).
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import ServerError, error_payload


def new_request_id() -> str:
    return "req_" + secrets.token_hex(8)


def utc_timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_response(error: ServerError, request: Request) -> JSONResponse:
    body = error_payload(error.error_type, error.detail, request.state.request_id, request.state.minimal)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def usage_body(prompt: int, completion: int, cost: float, started: float) -> dict[str, Any]:
    return {"tokens_prompt": prompt, "tokens_completion": completion,
            "tokens_total": prompt + completion, "cost": round(cost, 12),
            "latency": round(time.perf_counter() - started, 6), "timestamp": utc_timestamp()}


_NOT_MINIMAL_RAW = ("usage", "model")


def envelope(request: Request, started: float, provider: str, model: str, data: Any,
             usage: dict[str, Any], raw_response: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The common success body of the generation endpoints (docs/protocol.md sections 3 to 6)."""
    if request.state.minimal:
        raw = {k: v for k, v in raw_response.items() if k not in _NOT_MINIMAL_RAW}
        return {"success": True, "message": "ok", "data": data, "raw_response": raw}
    return {
        "request_id": request.state.request_id,
        "created_at": utc_timestamp(),
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "provider": provider,
        "model": model,
        "success": True,
        "message": "ok",
        "data": data,
        **fields,
        "usage": usage,
        "raw_response": raw_response,
    }


Handler = Callable[[Request], Awaitable[Response]]


def answering_errors(render: Callable[[ServerError, Request], Response]) -> Callable[[Handler], Handler]:
    """A decorator that answers a ServerError raised by a handler with ``render(error, request)``."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except ServerError as error:
                return render(error, request)

        return wrapped

    return decorate
