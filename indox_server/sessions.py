"""Sessions: the JWT access tokens a login hands out (docs/protocol.md section 2).

A session is an HS256 JWT with the claims ``sub`` (the account id), ``iat``,
``exp`` and a random ``jti``, signed with a secret made fresh for each server
process. It is signed and checked here by hand, with ``hmac``, ``hashlib`` and
``base64``, rather than with PyJWT: the server only ever checks tokens it
signed itself, with one fixed algorithm and header, so the twenty lines below
are the whole of what is needed, and the ``[server]`` extra stays Starlette
and uvicorn alone.

Ending every session at once (``expire_all``, the ``/_local/expire-tokens``
switch) retires the signing secret: tokens signed with it fail from then on,
and logins sign with a new one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from .errors import unauthenticated


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


_HEADER = _b64(_json({"alg": "HS256", "typ": "JWT"}))


def sign(claims: dict[str, Any], secret: bytes) -> str:
    """A compact HS256 JWT of ``claims``."""
    signing_input = f"{_HEADER}.{_b64(_json(claims))}"
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def signed_with(token: str, secret: bytes) -> bool:
    header, _, rest = token.partition(".")
    payload, _, signature = rest.partition(".")
    if header != _HEADER or not payload or not signature:
        return False
    expected = hmac.new(secret, f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    try:
        return hmac.compare_digest(expected, _unb64(signature))
    except ValueError:  # not base64
        return False


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a token (unverified: check it with ``signed_with`` first)."""
    claims = json.loads(_unb64(token.split(".")[1]))
    if not isinstance(claims, dict):
        raise ValueError("JWT payload is not an object")
    return claims


@dataclass(frozen=True)
class Session:
    access_token: str
    expires_in: int  # whole seconds, rounded up

    def body(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "token_type": "bearer", "expires_in": self.expires_in}


class SessionStore:
    """Issues sessions and tells whose a presented token is."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._secret = secrets.token_bytes(32)
        self._retired: deque[bytes] = deque(maxlen=32)

    def issue(self, account_id: str) -> Session:
        now = time.time()
        end = now + self.ttl
        # Whole seconds when the lifetime is whole (a session then lives at least ``expires_in``);
        # milliseconds for the sub-second lifetimes tests use.
        exp: float = math.ceil(end) if float(self.ttl).is_integer() else round(end, 3)
        claims = {"sub": account_id, "iat": int(now), "exp": exp, "jti": secrets.token_hex(8)}
        return Session(sign(claims, self._secret), max(1, math.ceil(self.ttl)))

    def account_of(self, token: str) -> str:
        """The account id a live session token belongs to; else the protocol's 401."""
        if not signed_with(token, self._secret):
            if any(signed_with(token, old) for old in self._retired):
                raise unauthenticated("The session has been ended by the server; log in again.")
            raise unauthenticated("The session token is not valid (malformed, or its signature does not match).")
        try:
            claims = claims_of(token)
        except ValueError:
            raise unauthenticated("The session token is not valid (malformed payload).") from None
        exp, sub = claims.get("exp"), claims.get("sub")
        if not isinstance(exp, (int, float)) or not isinstance(sub, str):
            raise unauthenticated("The session token is not valid (missing claims).")
        if exp <= time.time():
            raise unauthenticated("The session has expired; log in again.")
        return sub

    def expire_all(self) -> None:
        """End every session issued so far; later logins work as usual."""
        self._retired.append(self._secret)
        self._secret = secrets.token_bytes(32)
