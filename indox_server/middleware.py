"""What every answer of the local server shares, as one outermost ASGI layer.

It gives each request its id (``X-Request-ID``), applies the request-level
faults, counts the request against the caller's rate limit
(``X-RateLimit-*``, 429 with ``Retry-After``), and turns any exception a
handler lets escape into the protocol's 500 body instead of a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import TYPE_OF_STATUS, ServerError, error_body
from .faults import REQUEST_KINDS, Fault
from .responses import new_request_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIXES = ("/v1", "/openai/v1")  # the native API, and the OpenAI facade (same faults and limits)
logger = logging.getLogger("indox_server")


async def abort_connection(send: Send) -> bool:
    """Reset the connection under ``send`` (uvicorn's), as a crashing proxy would."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.abort()
    for _ in range(3):  # let the loop deliver connection_lost before anyone writes
        await asyncio.sleep(0)
    return True


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


async def send_json(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]],
                    content_type: str = "application/json") -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", content_type.encode()), (b"content-length", str(len(raw)).encode()),
        *headers]})
    await send({"type": "http.response.body", "body": raw})


class ProtocolMiddleware:
    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        headers: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        scope.setdefault("state", {}).update(request_id=request_id,
                                             abort=lambda: abort_connection(send))
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):  # /v1/providers/ is /v1/providers, not a redirect
            path = scope["path"] = path.rstrip("/") or "/"
        prefix = next((p for p in API_PREFIXES if path.startswith(p + "/")), None)
        if prefix is not None:
            receive = self.state.journal.record(scope, receive)
            api_path = path[len(prefix):]
            for fault in self.state.faults.take(api_path, scope["method"], REQUEST_KINDS):
                if fault.kind == "delay":
                    await asyncio.sleep(fault.delay)
                elif fault.kind == "drop" and await abort_connection(send):
                    return
                elif fault.kind in ("drop", "respond"):
                    await self._send_fault(fault, send, headers, request_id)
                    return
            if not api_path.startswith("/files/"):
                decision = self.state.limiter.check(self._caller(scope))
                headers.extend(decision.headers())
                if not decision.allowed:
                    detail = f"Rate limit of {decision.limit} requests exceeded; retry later."
                    await send_json(send, 429, error_body("rate_limit_exceeded", detail, request_id),
                                    [*headers, (b"retry-after", str(decision.retry_after).encode())])
                    return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("Unhandled error in %s %s (%s)", scope["method"], path, request_id)
            if started:
                await abort_connection(send)
                return
            error = ServerError("internal_error", "The local server failed to answer this request.")
            await send_json(send, 500, error_body(error.error_type, error.detail, request_id), headers)

    def _caller(self, scope: Scope) -> str:
        token = bearer_token(scope)
        account: str | None = self.state.tokens.account_of(token) if token else None
        if account is None and token:  # the OpenAI facade takes the key itself
            owner = self.state.account_for_key(token)
            account = owner.id if owner is not None else None
        if account is not None:
            return "account:" + account
        client = scope.get("client") or ("unknown", 0)
        return f"address:{client[0]}"

    @staticmethod
    async def _send_fault(fault: Fault, send: Send, headers: list[tuple[bytes, bytes]],
                          request_id: str) -> None:
        extra = [(k.lower().encode("latin-1"), str(v).encode("latin-1"))
                 for k, v in fault.headers.items()]
        names = {name for name, _ in extra}
        kept = [(k, v) for k, v in headers if k not in names] + extra
        body = fault.body
        if fault.kind == "drop":  # no transport to reset: end after a partial answer instead
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"100"), *kept]})
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise ConnectionAbortedError("drop fault")
        if body is None:
            error_type = fault.error_type or TYPE_OF_STATUS.get(fault.status, "internal_error")
            body = error_body(error_type, f"Injected fault: status {fault.status}.", request_id)
        if isinstance(body, str):
            await send_json(send, fault.status, body.encode(), kept,
                            fault.content_type or "text/html; charset=utf-8")
        else:
            await send_json(send, fault.status, body, kept, fault.content_type or "application/json")
