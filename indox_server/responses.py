"""The bodies the local server answers with: the success envelope and errors."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import ServerError, error_body


def new_request_id() -> str:
    return "req_" + secrets.token_hex(8)


def utc_timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_response(error: ServerError, request_id: str) -> JSONResponse:
    return JSONResponse(error_body(error.error_type, error.detail, request_id),
                        status_code=error.status, headers=error.headers)


def usage_body(prompt: int, completion: int, cost: float, started: float) -> dict[str, Any]:
    return {"tokens_prompt": prompt, "tokens_completion": completion,
            "tokens_total": prompt + completion, "cost": round(cost, 12),
            "latency": round(time.perf_counter() - started, 6), "timestamp": utc_timestamp()}


def envelope(request_id: str, started: float, provider: str, model: str, data: Any,
             usage: dict[str, Any], raw_response: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The common success body of the generation endpoints."""
    return {
        "request_id": request_id,
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


def answering_errors(render: Callable[[ServerError, str], Response]) -> Callable[[Handler], Handler]:
    """A decorator that answers a ServerError raised by a handler with ``render(error, request_id)``."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except ServerError as error:
                return render(error, request.state.request_id)

        return wrapped

    return decorate
