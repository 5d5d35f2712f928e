"""One pooled ``requests`` session: the only place the client touches HTTP."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from .exceptions import APIError, map_exceptions

logger = logging.getLogger("shared_client")
USER_AGENT = "indox-integrations/0.1 (shared_client; python-requests)"
DRAIN_SECONDS = 0.5


class BearerAuth(AuthBase):
    """Sets the bearer header. Passing any auth object also stops ``requests`` from
    replacing the header with ``~/.netrc`` credentials, as it does to a plain header."""

    def __init__(self, token: str | None) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(<hidden>)"


class Transport:
    """Sends requests to ``base_url`` over a connection pool sized for many threads."""

    def __init__(self, base_url: str, timeout: tuple[float, float], pool_maxsize: int) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})

    def send(self, method: str, path: str, *, body: bytes | None = None, bearer: str | None = None,
             params: dict[str, str] | None = None, stream: bool = False) -> requests.Response:
        headers: dict[str, str] = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if stream:  # SSE must arrive as sent: no compression buffering events
            headers.update({"Accept": "text/event-stream", "Accept-Encoding": "identity"})
        action = f"{method} {path}"
        started = time.perf_counter()
        with map_exceptions(action):
            response = self.session.request(
                method, self.base_url + path, data=body, headers=headers, params=params,
                auth=BearerAuth(bearer), stream=stream, timeout=self.timeout,
                # never follow: a redirect could carry the token or the key to another origin
                allow_redirects=False)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s -> %d in %.1f ms (request %s)", action, response.status_code,
                         (time.perf_counter() - started) * 1000, response.headers.get("X-Request-ID", "-"))
        if response.is_redirect:
            location = response.headers.get("Location", "?")
            response.close()
            raise APIError(f"{action} was redirected to {location}; the client does not follow redirects "
                           "(credentials stay with base_url's origin). Set base_url to the final address.",
                           status_code=response.status_code)
        return response

    def close(self) -> None:
        self.session.close()

    def finish(self, response: requests.Response) -> None:
        """After a stream's ``[DONE]``: read what is left of the body, for at most
        ``DRAIN_SECONDS``, so the connection goes back to the pool; a server that keeps
        the stream open longer loses the connection instead of holding up the caller."""
        raw: Any = response.raw
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        previous = sock.gettimeout() if sock is not None else None
        deadline = time.monotonic() + DRAIN_SECONDS
        try:
            if sock is not None:
                sock.settimeout(DRAIN_SECONDS)
            while time.monotonic() < deadline:
                if not raw.read1(65536):
                    return  # the whole body is read: urllib3 has put the connection back
        except (OSError, urllib3.exceptions.HTTPError):
            pass
        finally:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.settimeout(previous)
        response.close()

    def read_some(self, response: requests.Response, action: str) -> bytes:
        """Whatever part of a streamed body has arrived (blocking until something has)."""
        raw: Any = response.raw
        with map_exceptions(action):
            return bytes(raw.read1(65536))
