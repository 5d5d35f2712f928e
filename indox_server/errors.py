"""The protocol's error answers (docs/protocol.md section 9), raised inside handlers."""

from __future__ import annotations

import re
from typing import Any

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
    """A 401 for a session token that was presented but is not (or no longer) good."""
    return ServerError("authentication_error", detail,
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def not_logged_in(detail: str) -> ServerError:
    """A 401 for a request that presented no credential at all (RFC 6750: no error code)."""
    return ServerError("authentication_error", detail, headers={"WWW-Authenticate": "Bearer"})


def error_body(error_type: str, detail: str, request_id: str) -> dict[str, str]:
    return {"detail": detail, "type": error_type, "request_id": request_id}


# --- the minimal server's errors: FastAPI's own shapes ----------------------------------------

_FIELD_RE = re.compile(r"Field '([^']+)'")
_PART_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_PYDANTIC_TYPES = (("required", "missing"), ("must be a string", "string_type"),
                   ("must be a boolean", "bool_type"), ("must be an integer", "int_type"),
                   ("number", "float_type"), ("must be an object", "dict_type"),
                   ("must be an array", "list_type"), ("list of", "list_type"))


def validation_items(detail: str) -> list[dict[str, Any]]:
    """A 422 detail as FastAPI words it: ``[{"loc", "msg", "type"}]``, the field read from our detail."""
    field = _FIELD_RE.search(detail)
    loc: list[str | int] = ["body"]
    if field is not None:
        loc += [name if name else int(index) for name, index in _PART_RE.findall(field.group(1))]
    kind = next((kind for words, kind in _PYDANTIC_TYPES if words in detail), "value_error")
    return [{"loc": loc, "msg": detail, "type": kind}]


def error_payload(error_type: str, detail: str, request_id: str, minimal: bool) -> dict[str, Any]:
    """The body of an error answer: section 9's, or a minimal server's bare ``{"detail"}``."""
    if not minimal:
        return error_body(error_type, detail, request_id)
    if error_type == "validation_error":
        return {"detail": validation_items(detail)}
    return {"detail": detail}
