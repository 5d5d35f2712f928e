"""What every answer of the local server shares, as one outermost ASGI layer.

It gives each request its id (``X-Request-ID``; none in minimal mode), guards
the ``/_local`` test switches (loopback callers with a valid API key only),
reads each other request's body whole and writes it to the journal, applies
the request-level faults, counts the request against the caller's rate limit
(``X-RateLimit-*``, 429 with ``Retry-After``), and turns any exception a
handler lets escape into the protocol's 500 body instead of a traceback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import ClientDisconnect

from .errors import TYPE_OF_STATUS, ServerError, error_payload, not_logged_in
from .faults import REQUEST_KINDS, Fault
from .responses import new_request_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_ROOT = "/api/v1"  # docs/protocol.md version 2
FACADE_ROOT = "/openai/v1"  # the OpenAI-compatible facade
API_PREFIXES = (API_ROOT, FACADE_ROOT)  # the same faults and rate limits under both
SWITCHES = "/_local"  # the test switches
SESSION_COOKIE = "access_token"
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


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def bearer_token(scope: Scope) -> str | None:
    value = _header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def cookie_token(scope: Scope, name: str = SESSION_COOKIE) -> str | None:
    for header_name, value in scope.get("headers", []):
        if header_name.lower() != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            key, eq, token = part.strip().partition("=")
            if eq and key == name and token.strip('"'):
                return str(token.strip('"'))
    return None


def credentials(scope: Scope) -> list[str]:
    """The session tokens a request presents: its bearer token, then its ``access_token`` cookie."""
    return [token for token in (bearer_token(scope), cookie_token(scope)) if token]


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def switch_refusal(scope: Scope, state: Any) -> ServerError | None:
    """Why a request may not use the ``/_local`` test switches, or None when it may.

    Only loopback callers see them at all (anyone else gets the 404 of a path that does not
    exist), and only with a valid API key of this server in ``X-API-Key`` (else 401).
    """
    client = scope.get("client")
    if not _loopback(client[0] if client else None):
        return ServerError("not_found", f"No route for {scope['method']} {scope['path']}.")
    key = _header(scope, b"x-api-key")
    if not key:
        return not_logged_in("The test switches need the header 'X-API-Key: <an API key of this server>'.")
    if state.account_for_key(key) is None:
        return ServerError("authentication_error", "The API key is not valid.")
    return None


async def read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it to the app as if unread."""
    chunks: list[bytes] = []
    ended: Message | None = None
    while True:
        message = await receive()
        if message["type"] != "http.request":
            ended = message  # the client left before its body was complete
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if ended is not None:
        pending.append(ended)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return body, replay


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
        received: str = scope["path"]
        path = received
        if len(path) > 1 and path.endswith("/"):  # /api/v1/models/ is /api/v1/models, not a redirect
            path = scope["path"] = path.rstrip("/") or "/"
        switch = path == SWITCHES or path.startswith(SWITCHES + "/")
        prefix = next((p for p in API_PREFIXES if path.startswith(p + "/")), None)
        # Minimal mode is the native API's: the switches and the OpenAI facade keep their shapes.
        minimal = bool(self.state.minimal) and not switch and prefix != FACADE_ROOT
        headers: list[tuple[bytes, bytes]] = [] if minimal else [(b"x-request-id", request_id.encode())]
        scope.setdefault("state", {}).update(request_id=request_id, minimal=minimal,
                                             abort=lambda: abort_connection(send))

        def error(error_type: str, detail: str) -> Any:
            return error_payload(error_type, detail, request_id, minimal)

        if switch:
            refusal = switch_refusal(scope, self.state)
            if refusal is not None:
                extra = [(k.lower().encode(), v.encode()) for k, v in refusal.headers.items()]
                await send_json(send, refusal.status, error(refusal.error_type, refusal.detail),
                                [*headers, *extra])
                return
        else:
            body, receive = await read_body(receive)
            self.state.journal.record({**scope, "path": received}, body)
        if prefix is not None:
            api_path = path[len(prefix):]
            for fault in self.state.faults.take(api_path, scope["method"], REQUEST_KINDS):
                if fault.kind == "delay":
                    await asyncio.sleep(fault.delay)
                elif fault.kind == "drop" and await abort_connection(send):
                    return
                elif fault.kind in ("drop", "respond"):
                    await self._send_fault(fault, send, headers, request_id, minimal)
                    return
            if not api_path.startswith("/files/"):
                decision = self.state.limiter.check(self._caller(scope))
                headers.extend(decision.headers())
                if not decision.allowed:
                    detail = f"Rate limit of {decision.limit} requests exceeded; retry later."
                    await send_json(send, 429, error("rate_limit_exceeded", detail),
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
        except (ClientDisconnect, ConnectionError) as gone:  # Ctrl-C or a timeout on the client's side
            logger.info("%s %s (%s): the client went away (%s)", scope["method"], path, request_id,
                        type(gone).__name__)
        except Exception:
            logger.exception("Unhandled error in %s %s (%s)", scope["method"], path, request_id)
            if started:
                await abort_connection(send)
                return
            detail = "The local server failed to answer this request."
            await send_json(send, 500, error("internal_error", detail), headers)

    def _caller(self, scope: Scope) -> str:
        for token in credentials(scope):
            try:
                return "account:" + str(self.state.sessions.account_of(token))
            except ServerError:
                owner = self.state.account_for_key(token)  # the OpenAI facade takes the key itself
                if owner is not None:
                    return "account:" + str(owner.id)
        client = scope.get("client") or ("unknown", 0)
        return f"address:{client[0]}"

    @staticmethod
    async def _send_fault(fault: Fault, send: Send, headers: list[tuple[bytes, bytes]],
                          request_id: str, minimal: bool) -> None:
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
            body = error_payload(error_type, f"Injected fault: status {fault.status}.", request_id, minimal)
        if isinstance(body, str):
            await send_json(send, fault.status, body.encode(), kept,
                            fault.content_type or "text/html; charset=utf-8")
        else:
            await send_json(send, fault.status, body, kept, fault.content_type or "application/json")
