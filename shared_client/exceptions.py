"""Every exception a client call can raise: the classes, grouped by kind, and nothing else.

The hierarchy (docs/protocol.md section 9)::

    IndoxRouterError
    ├── AuthenticationError          401, 403, no API key
    ├── NetworkError                 refused, reset, timed out, cut stream
    │   └── RequestTimeoutError      timed out
    ├── RateLimitError               429
    ├── InsufficientCreditsError     402
    ├── InvalidParametersError       400, and bad arguments caught before sending
    │   └── ValidationError          422
    ├── ProviderError                502, 504
    │   ├── ProviderNotFoundError    404 naming a provider
    │   ├── ModelNotFoundError       404 naming a model
    │   └── ModelNotAvailableError   503 naming a model; 404 of a disabled model
    └── APIError                     500, other 404s and 503s, answers the client cannot understand

How a status, an error ``type`` and the words of ``detail`` choose among them is
docs/protocol.md section 9, in ``_errors.py``.
"""

from __future__ import annotations

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
