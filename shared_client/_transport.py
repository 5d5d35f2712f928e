"""The synchronous shell's I/O: one pooled ``requests`` session, and its exceptions mapped to ours."""

from __future__ import annotations

import contextlib
import http.cookiejar
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from ._protocol import Answer, Request
from .exceptions import APIError, NetworkError, RequestTimeoutError

logger = logging.getLogger("shared_client")
USER_AGENT = "indox-integrations/0.1 (shared_client; python-requests)"
DRAIN_SECONDS = 0.5
INLINE_DRAIN_SECONDS = 0.05  # only when bytes are already waiting; a stalled tail goes closed


@contextlib.contextmanager
def map_exceptions(action: str) -> Iterator[None]:
    """Turn ``requests``' and urllib3's exceptions into ours, in this one place, keeping the cause.

    Each carries ``request_sent``: whether the request may have reached the server,
    which decides whether a POST may be repeated (docs/protocol.md section 10).
    """
    try:
        yield
    except requests.ConnectTimeout as exc:
        raise RequestTimeoutError(f"{action} could not connect in time: {_reason(exc)}",
                                  request_sent=False) from exc
    except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
        raise RequestTimeoutError(f"{action} timed out waiting for the server: {_reason(exc)}",
                                  request_sent=True) from exc
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError, urllib3.exceptions.HTTPError, OSError) as exc:
        sent = not _failed_to_connect(exc)
        what = "failed on the network" if sent else "could not connect"
        raise NetworkError(f"{action} {what}: {_reason(exc)}", request_sent=sent) from exc
    except requests.RequestException as exc:  # invalid URL, too many redirects, ...
        raise NetworkError(f"{action} could not be sent: {_reason(exc)}", request_sent=False) from exc


def _failed_to_connect(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it wraps) happened before any byte of the request was sent."""
    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError,
                                urllib3.exceptions.ProxyError, urllib3.exceptions.SSLError,
                                requests.exceptions.SSLError, requests.exceptions.ProxyError)):
            return True
        if isinstance(current, BaseException):
            pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None),
                            *[arg for arg in current.args if isinstance(arg, BaseException)]])
    return False


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _HeaderAuth(AuthBase):
    """Sets the session's ``Authorization`` header, if any. Passing an auth object also stops
    ``requests`` from replacing the header with ``~/.netrc`` credentials, as it does otherwise."""

    def __init__(self, authorization: str | None) -> None:
        self._authorization = authorization

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._authorization:
            request.headers["Authorization"] = self._authorization
        return request

    def __repr__(self) -> str:
        return "_HeaderAuth(<hidden>)"


class _NoCookieStore(http.cookiejar.DefaultCookiePolicy):
    """The session's own jar keeps nothing: the core's ``Session`` holds the login's cookies."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


class Transport:
    """Sends requests under the API root over a connection pool sized for many threads; the
    session's cookie jar keeps what the server sets (the ``access_token`` cookie)."""

    def __init__(self, api_root: str, timeout: tuple[float, float], pool_maxsize: int) -> None:
        self.api_root = api_root
        self.timeout = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.session.cookies = requests.cookies.RequestsCookieJar(policy=_NoCookieStore())  # see Session.accept

    def send(self, request: Request) -> Answer:
        """The answer to ``request``; a streamed 2xx answer's body is left unread, in ``Answer.stream``."""
        headers = dict(request.headers)
        authorization = headers.pop("Authorization", None)
        action = request.action
        started = time.perf_counter()
        with map_exceptions(action):
            response = self.session.request(
                request.method, self.api_root + request.path, data=request.content, headers=headers,
                params=request.params, auth=_HeaderAuth(authorization), stream=request.stream,
                timeout=self.timeout,
                # never follow: a redirect could carry the session or the key to another origin
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
        # headers: requests' own case-insensitive mapping; cookies matter only to a login's answer
        answer = Answer(response.status_code, response.headers,
                        cookies=response.cookies.get_dict() if not request.authenticated else {})
        if request.stream and response.status_code < 300:
            answer.stream = response
            return answer
        try:
            with map_exceptions(action):
                answer.content = response.content
        except NetworkError:
            if response.status_code < 300:
                raise
            answer.content = b""  # an error answer whose body broke off still has its status
        finally:
            response.close()
        return answer

    def close(self) -> None:
        self.session.close()

    def release(self, response: requests.Response) -> None:
        """After a stream's ``[DONE]``: pool the connection without making the caller wait.

        Usually the end of the body has already arrived with ``[DONE]``: it is read at once.
        Otherwise the background drainer reads it (for at most ``DRAIN_SECONDS``).
        """
        if _rest_has_arrived(response):
            drain(response, INLINE_DRAIN_SECONDS)
        else:
            _drainer.submit(response)

    def read_some(self, response: requests.Response, action: str) -> bytes:
        """Whatever part of a streamed body has arrived (blocking until something has)."""
        raw: Any = response.raw
        with map_exceptions(action):
            return bytes(raw.read1(65536))


def _rest_has_arrived(response: requests.Response) -> bool:
    """Whether bytes of the body are already waiting: a peek that neither blocks nor consumes."""
    raw: Any = response.raw
    reader = getattr(getattr(raw, "_fp", None), "fp", None)  # http.client's buffered socket reader
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if reader is None:
        return True  # http.client has already read the whole body
    if sock is None or not hasattr(reader, "peek"):
        return False
    previous = sock.gettimeout()
    try:
        sock.settimeout(0)  # a non-blocking socket: peek returns what is buffered or ready, or nothing
        return bool(reader.peek(1))
    except (OSError, ValueError):
        return False
    finally:
        with contextlib.suppress(OSError):
            sock.settimeout(previous)


def drain(response: requests.Response, limit: float = DRAIN_SECONDS) -> None:
    """Read what is left of ``response`` for at most ``limit`` seconds, so its connection goes
    back to the pool; a server that keeps the stream open longer loses the connection instead."""
    raw: Any = response.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    previous = sock.gettimeout() if sock is not None else None
    deadline = time.monotonic() + limit
    try:
        if sock is not None:
            sock.settimeout(limit)
        while time.monotonic() < deadline:
            if not raw.read1(65536):
                return  # the whole body is read: urllib3 has put the connection back
    except (OSError, urllib3.exceptions.HTTPError, ValueError):
        pass
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(previous)
    response.close()


class _Drainer:
    """One daemon thread that drains finished streams, started on first use (and anew after a fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[requests.Response] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, response: requests.Response) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="indox-stream-drain", daemon=True)
                self._thread.start()
        self._queue.put(response)

    def _run(self) -> None:
        while True:
            response = self._queue.get()
            with contextlib.suppress(Exception):  # a drain that fails only costs its connection
                drain(response)

    def _after_fork(self) -> None:
        """In a forked child the parent's thread is gone and its queued answers are the parent's."""
        self._lock = threading.Lock()
        self._queue = queue.SimpleQueue()
        self._thread = None


_drainer = _Drainer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drainer._after_fork)
