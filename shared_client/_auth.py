"""Bearer tokens: lazy login with the API key, proactive and reactive refresh, thread-safe."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from .exceptions import APIError, AuthenticationError

TokenFetcher = Callable[[str, dict[str, str]], Any]


class TokenManager:
    """Holds the API key and the current tokens; hands out a valid bearer token.

    One lock guards login and refresh, so many threads finding the token stale
    cause one refresh: the others wait, then use the new token.
    """

    def __init__(self, api_key: SecretStr, fetch: TokenFetcher, auto_refresh: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._api_key = api_key
        self._fetch = fetch
        self.auto_refresh = auto_refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0
        self._margin = 0.0

    def __repr__(self) -> str:
        return f"TokenManager(logged_in={self._access is not None}, auto_refresh={self.auto_refresh})"

    def bearer(self) -> str:
        with self._lock:
            if self._access is None:
                self._store(self._fetch("/auth/token", {"api_key": self._api_key.get_secret_value()}))
            elif self.auto_refresh and self._clock() >= self._expires_at - self._margin:
                self._renew()
            assert self._access is not None
            return self._access

    def invalidate(self, token: str) -> None:
        """The server refused ``token``: the next ``bearer()`` refreshes, unless that already happened."""
        with self._lock:
            if token == self._access:
                self._expires_at = 0.0

    def _renew(self) -> None:
        if self._refresh is not None:
            refresh, self._refresh = self._refresh, None  # single-use, whatever the outcome
            try:
                self._store(self._fetch("/auth/refresh", {"refresh_token": refresh}))
                return
            except AuthenticationError:
                pass  # unknown, used or expired: log in again with the key
        self._store(self._fetch("/auth/token", {"api_key": self._api_key.get_secret_value()}))

    def _store(self, tokens: Any) -> None:
        access = tokens.get("access_token") if isinstance(tokens, dict) else None
        expires_in = tokens.get("expires_in") if isinstance(tokens, dict) else None
        if not isinstance(access, str) or not access or isinstance(expires_in, bool) \
                or not isinstance(expires_in, (int, float)) or expires_in <= 0:
            raise APIError("The token endpoint's answer was not understood: it needs 'access_token' "
                           "and a positive 'expires_in'.")
        refresh = tokens.get("refresh_token")
        self._access = access
        self._refresh = refresh if isinstance(refresh, str) and refresh else None
        self._expires_at = self._clock() + float(expires_in)
        self._margin = min(60.0, float(expires_in) / 10)
