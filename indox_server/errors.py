"""The protocol's error answers (PROTOCOL.md section 9), raised inside handlers."""

from __future__ import annotations

# The status each protocol error type is sent with.
STATUS_OF_TYPE: dict[str, int] = {
    "invalid_parameters": 400,
    "authentication_error": 401,
    "insufficient_credits": 402,
    "permission_denied": 403,
    "provider_not_found": 404,
    "model_not_found": 404,
    "not_found": 404,
    "method_not_allowed": 405,
    "validation_error": 422,
    "rate_limit_exceeded": 429,
    "internal_error": 500,
    "provider_error": 502,
    "model_unavailable": 503,
    "provider_timeout": 504,
}

# The reverse, for faults that give a status but no type.
TYPE_OF_STATUS: dict[int, str] = {
    400: "invalid_parameters",
    401: "authentication_error",
    402: "insufficient_credits",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    422: "validation_error",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "provider_error",
    503: "model_unavailable",
    504: "provider_timeout",
}


class ServerError(Exception):
    """An error the server answers with the protocol's error body."""

    def __init__(self, error_type: str, detail: str, *, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.error_type = error_type
        self.detail = detail
        self.status = status or STATUS_OF_TYPE.get(error_type, 500)
        self.headers = headers or {}


def invalid(detail: str) -> ServerError:
    return ServerError("invalid_parameters", detail)


def unauthenticated(detail: str) -> ServerError:
    return ServerError("authentication_error", detail,
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def error_body(error_type: str, detail: str, request_id: str) -> dict[str, str]:
    return {"detail": detail, "type": error_type, "request_id": request_id}
