"""Every exception a client call can raise, and how an error answer becomes one.

The hierarchy (PROTOCOL.md section 9)::

    IndoxRouterError
    ├── AuthenticationError          401, 403, no API key
    ├── NetworkError                 refused, reset, timed out, cut stream
    │   └── RequestTimeoutError      timed out
    ├── RateLimitError               429
    ├── InsufficientCreditsError     402
    ├── InvalidParametersError       400, and bad arguments caught before sending
    │   └── ValidationError          422
    ├── ProviderError                502, 504
    │   ├── ProviderNotFoundError    404 provider_not_found
    │   ├── ModelNotFoundError       404 model_not_found
    │   └── ModelNotAvailableError   503
    └── APIError                     500, other 404s, answers the client cannot understand
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any


class IndoxRouterError(Exception):
    """Base of every error raised by the client."""

    def __init__(self, message: str, *, status_code: int | None = None, error_type: str | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_type = error_type
        self.request_id = request_id

    def __str__(self) -> str:
        extra = [f"status {self.status_code}" if self.status_code is not None else "",
                 self.error_type or "", f"request {self.request_id}" if self.request_id else ""]
        shown = ", ".join(part for part in extra if part)
        return f"{self.message} ({shown})" if shown else self.message

    def __reduce__(self) -> tuple[Any, ...]:  # keep the keyword fields through pickling
        return (_rebuild, (type(self), self.message, self._fields()))

    def _fields(self) -> dict[str, Any]:
        return {"status_code": self.status_code, "error_type": self.error_type,
                "request_id": self.request_id}


def _rebuild(cls: type[IndoxRouterError], message: str, fields: dict[str, Any]) -> IndoxRouterError:
    return cls(message, **fields)


class AuthenticationError(IndoxRouterError):
    """No API key, a refused key or token, or permission denied (401, 403)."""


class NetworkError(IndoxRouterError):
    """The server could not be reached, did not answer in time, or cut a stream.

    ``request_sent`` is False when nothing reached the server (refused, DNS, TLS, connect
    timeout), True when the request may have reached it, None when unknown.
    """

    def __init__(self, message: str, *, request_sent: bool | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.request_sent = request_sent

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "request_sent": self.request_sent}


class RequestTimeoutError(NetworkError):
    """The server did not accept the connection, or did not answer, within the timeout."""


class RateLimitError(IndoxRouterError):
    """Too many requests (429); ``retry_after`` says how long to wait, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 reset_time: datetime | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retry_after = retry_after
        if reset_time is None and retry_after is not None:
            reset_time = datetime.now(timezone.utc) + timedelta(seconds=retry_after)
        self.reset_time = reset_time

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "retry_after": self.retry_after, "reset_time": self.reset_time}


class InsufficientCreditsError(IndoxRouterError):
    """The account has no credits left for this request (402)."""


class InvalidParametersError(IndoxRouterError):
    """The request's arguments are wrong (400, or caught before sending)."""


class ValidationError(InvalidParametersError):
    """The server rejected the request's shape (422)."""


class ProviderError(IndoxRouterError):
    """The provider behind the router failed or timed out (502, 504)."""


class ProviderNotFoundError(ProviderError):
    """No such provider (404 ``provider_not_found``)."""


class ModelNotFoundError(ProviderError):
    """No such model at that provider (404 ``model_not_found``)."""


class ModelNotAvailableError(ProviderError):
    """The model exists but cannot serve now (503)."""


class APIError(IndoxRouterError):
    """The server failed (500), answered an unexpected status, or sent what the client cannot read."""


class InsecureBaseURLWarning(UserWarning):
    """The base URL sends the API key and tokens over plain HTTP to another machine."""


_BY_STATUS: dict[int, type[IndoxRouterError]] = {
    400: InvalidParametersError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: AuthenticationError,
    422: ValidationError,
    429: RateLimitError,
    500: APIError,
    502: ProviderError,
    503: ModelNotAvailableError,
    504: ProviderError,
}
_BY_TYPE: dict[str, type[IndoxRouterError]] = {
    "invalid_parameters": InvalidParametersError,
    "authentication_error": AuthenticationError,
    "insufficient_credits": InsufficientCreditsError,
    "permission_denied": AuthenticationError,
    "provider_not_found": ProviderNotFoundError,
    "model_not_found": ModelNotFoundError,
    "validation_error": ValidationError,
    "rate_limit_exceeded": RateLimitError,
    "internal_error": APIError,
    "provider_error": ProviderError,
    "model_unavailable": ModelNotAvailableError,
    "provider_timeout": ProviderError,
}


def error_class(status: int | None, error_type: str | None) -> type[IndoxRouterError]:
    """The exception PROTOCOL.md section 9 maps a status and error type to."""
    if status == 404:
        if error_type in ("provider_not_found", "model_not_found"):
            return _BY_TYPE[error_type]
        return APIError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status is None or not 400 <= status < 600:  # an error event without a usable status
        return _BY_TYPE.get(error_type or "", APIError)
    return APIError


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


def _error_details(body: bytes) -> tuple[str | None, str | None, str | None]:
    """``detail``, ``type`` and ``request_id`` from an error body, if it is the protocol's JSON."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None, None
    if not isinstance(parsed, dict):
        return None, None, None
    detail = parsed.get("detail")
    if not isinstance(detail, str):  # e.g. FastAPI's list of validation problems
        detail = json.dumps(detail) if detail is not None else parsed.get("message")
    found = [detail, parsed.get("type"), parsed.get("request_id")]
    return tuple(v if isinstance(v, str) and v else None for v in found)  # type: ignore[return-value]


def error_from_response(status: int, body: bytes, headers: Mapping[str, str], action: str) -> IndoxRouterError:
    """The exception for an error answer to ``action`` (e.g. ``POST /chat/completions``)."""
    detail, error_type, request_id = _error_details(body)
    request_id = request_id or headers.get("X-Request-ID")
    cls = error_class(status, error_type)
    message = f"{action} failed: {detail or _status_text(status)}"
    if cls is RateLimitError:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        return RateLimitError(message, retry_after=retry_after,
                              reset_time=parse_reset_time(headers.get("X-RateLimit-Reset")),
                              status_code=status, error_type=error_type, request_id=request_id)
    return cls(message, status_code=status, error_type=error_type, request_id=request_id)


def error_from_event(error: Any, action: str, request_id: str | None) -> IndoxRouterError:
    """The exception for a stream's ``{"error": {...}}`` event."""
    fields = error if isinstance(error, dict) else {}
    status = fields.get("status") if isinstance(fields.get("status"), int) else None
    error_type = fields.get("type") if isinstance(fields.get("type"), str) else None
    detail = fields.get("message") if isinstance(fields.get("message"), str) else "the stream failed"
    message = f"{action} failed mid-stream: {detail}"
    return error_class(status, error_type)(message, status_code=status, error_type=error_type,
                                           request_id=request_id)


def _status_text(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"
