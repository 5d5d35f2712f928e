"""From an error answer or an error event to the exception of docs/protocol.md section 9 (no I/O).

The exception is chosen by the body's ``type`` when the table names it for that
status; else by the status and the words of ``detail``, as the service's own
client does; else by the status alone.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

from .exceptions import (
    APIError,
    AuthenticationError,
    IndoxRouterError,
    InsufficientCreditsError,
    InvalidParametersError,
    ModelNotAvailableError,
    ModelNotFoundError,
    ProviderError,
    ProviderNotFoundError,
    RateLimitError,
    ValidationError,
)

_BY_STATUS: dict[int, type[IndoxRouterError]] = {
    400: InvalidParametersError, 401: AuthenticationError, 402: InsufficientCreditsError,
    403: AuthenticationError, 404: APIError, 422: ValidationError, 429: RateLimitError, 500: APIError,
    502: ProviderError, 503: APIError, 504: ProviderError,
}
_BY_TYPE: dict[int, dict[str, type[IndoxRouterError]]] = {
    400: {"invalid_parameters": InvalidParametersError, "validation_error": ValidationError},
    404: {"provider_not_found": ProviderNotFoundError, "model_not_found": ModelNotFoundError},
    503: {"model_unavailable": ModelNotAvailableError},
}
# For an error event that carries a type but no status.
_BY_TYPE_ALONE: dict[str, type[IndoxRouterError]] = {
    "invalid_parameters": InvalidParametersError, "validation_error": ValidationError,
    "authentication_error": AuthenticationError, "permission_denied": AuthenticationError,
    "insufficient_credits": InsufficientCreditsError, "provider_not_found": ProviderNotFoundError,
    "model_not_found": ModelNotFoundError, "rate_limit_exceeded": RateLimitError, "internal_error": APIError,
    "provider_error": ProviderError, "provider_timeout": ProviderError, "model_unavailable": ModelNotAvailableError,
}
_STATUS_IN_TEXT = re.compile(r"\bStatus (\d{3})\b", re.IGNORECASE)


def error_class(status: int | None, error_type: str | None = None, detail: str | None = None) -> type[IndoxRouterError]:
    """The exception for ``status``, the body's ``type`` and its ``detail`` (section 9's table)."""
    if status is None or not 400 <= status < 600:
        return _BY_TYPE_ALONE.get(error_type or "", APIError)
    by_type = _BY_TYPE.get(status, {}).get(error_type or "")
    if by_type is not None:
        return by_type
    words = (detail or "").lower()
    if status == 400 and ("validation" in words or "invalid format" in words):
        return ValidationError
    if status == 404:
        if "provider" in words:
            return ProviderNotFoundError
        if "model" in words:
            unavailable = any(w in words for w in ("not supported", "disabled", "unavailable"))
            return ModelNotAvailableError if unavailable else ModelNotFoundError
    if status == 503 and "model" in words:
        return ModelNotAvailableError
    return _BY_STATUS.get(status, APIError)


def error_details(body: bytes) -> tuple[str | None, str | None, str | None]:
    """``detail``, ``type`` and ``request_id`` of an error body. A 422's list of problems
    becomes one sentence of their ``msg``s; a body that is not JSON is its own detail."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        text = body.decode("utf-8", "replace").strip()
        return (text or None), None, None
    if not isinstance(parsed, dict):
        return None, None, None
    detail = parsed.get("detail")
    if isinstance(detail, list):
        detail = "; ".join(_problem(item) for item in detail) or None
    elif detail is not None and not isinstance(detail, str):
        detail = json.dumps(detail)
    if detail is None and isinstance(parsed.get("message"), str):
        detail = parsed["message"]
    found = [detail, parsed.get("type"), parsed.get("request_id")]
    return tuple(v if isinstance(v, str) and v else None for v in found)  # type: ignore[return-value]


def _problem(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(p) for p in item.get("loc", []) if p != "body") if isinstance(item.get("loc"), list) else ""
    message = str(item.get("msg", item))
    return f"{where}: {message}" if where else message


def error_from_answer(status: int, body: bytes, headers: Mapping[str, str], action: str) -> IndoxRouterError:
    """The exception for an error answer to ``action`` (e.g. ``POST /chat/completions``)."""
    detail, error_type, request_id = error_details(body)
    request_id = request_id or headers.get("x-request-id")
    cls = error_class(status, error_type, detail)
    shown = detail if detail and not _looks_like_html(detail) else status_text(status)
    message = f"{action} failed: {_shorten(shown)}"
    if cls is ModelNotFoundError:
        message += " List the models with client.models() (or client.models('openai') for one provider)."
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=parse_retry_after(headers.get("retry-after")),
                              reset_time=parse_reset_time(headers.get("x-ratelimit-reset")),
                              status_code=status, error_type=error_type, request_id=request_id)
    return cls(message, status_code=status, error_type=error_type, request_id=request_id)


def error_from_event(error: Any, action: str, request_id: str | None) -> IndoxRouterError:
    """The exception for a stream's error event: ``{"type", "message", "status"}`` or a plain
    string such as ``"Status 401: ..."``."""
    if isinstance(error, str):
        found = _STATUS_IN_TEXT.search(error)
        status = int(found.group(1)) if found else None
        cls = error_class(status, None, error) if status else APIError
        return cls(f"{action} failed mid-stream: {_shorten(error)}", status_code=status, request_id=request_id)
    fields = error if isinstance(error, dict) else {}
    status = fields.get("status") if isinstance(fields.get("status"), int) else None
    error_type = fields.get("type") if isinstance(fields.get("type"), str) else None
    detail = fields.get("message") if isinstance(fields.get("message"), str) else "the stream failed"
    return error_class(status, error_type, detail)(f"{action} failed mid-stream: {detail}", status_code=status,
                                                   error_type=error_type, request_id=request_id)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: integer, decimal, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def parse_reset_time(value: str | None) -> datetime | None:
    """The aware UTC moment of an ``X-RateLimit-Reset`` value (epoch seconds)."""
    try:
        stamp = float(value) if value else math.nan
        return datetime.fromtimestamp(stamp, timezone.utc) if math.isfinite(stamp) else None
    except (ValueError, OverflowError, OSError):
        return None


def status_text(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _looks_like_html(text: str) -> bool:
    return text.lstrip()[:1] == "<"


def _shorten(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
