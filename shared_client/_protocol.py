"""The client's side of docs/protocol.md as sans-I/O flows: one core, two shells.

A flow is a generator that yields steps and returns a result:

* ``Send(request)``: the shell sends it and sends back an :class:`Answer`, or throws
  the transport's :class:`NetworkError` into the flow;
* ``Sleep(seconds)``: the shell waits (``time.sleep`` or ``asyncio.sleep``);
* ``Login()``: the shell takes its login lock (a ``threading.Lock`` or an
  ``asyncio.Lock``), and unless another caller already has, runs :func:`login_flow`.

Every decision lives here: the retry budget, what may be repeated, renewal on 401,
the login order and fallback, and refusing to reuse a refused key. ``Client``
(``requests``) and ``AsyncClient`` (``httpx``) only carry the steps out.
"""

from __future__ import annotations

import base64
import json
import random
import time
import urllib.parse
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import SecretStr

from ._errors import error_from_answer, parse_retry_after
from ._retry import backoff_delay, retry_delay, should_retry
from .exceptions import AuthenticationError, IndoxRouterError, NetworkError

T = TypeVar("T")
LOGIN_PATH = "/auth/api-key"
FORM_LOGIN_PATH = "/auth/token"
RENEW_MARGIN = 30.0  # seconds before a known end at which the session is renewed


@dataclass(frozen=True)
class Request:
    """One HTTP request, relative to the API root. ``idempotent``: may be repeated even when it
    may have reached the server (by default only a GET)."""

    method: str
    path: str
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] | None = None
    stream: bool = False
    authenticated: bool = True
    idempotent: bool | None = None

    @property
    def action(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def repeatable_after_sending(self) -> bool:
        return self.method == "GET" if self.idempotent is None else self.idempotent


@dataclass
class Answer:
    """What came back: ``headers`` a case-insensitive mapping; for a streamed 2xx answer ``content``
    is empty and ``stream`` is the shell's open response; ``cookies`` are those it set."""

    status: int
    headers: Mapping[str, str]
    content: bytes = b""
    cookies: Mapping[str, str] = field(default_factory=dict)
    stream: Any = None

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


@dataclass(frozen=True)
class Send:
    request: Request


@dataclass(frozen=True)
class Sleep:
    seconds: float
    reason: str = ""


@dataclass(frozen=True)
class Login:
    pass


Step = Send | Sleep | Login
Flow = Generator[Step, Any, T]


class Session:
    """What the client knows of its login session: the bearer token, when it ends, which login
    form the server takes, and whether the server refused the key. No I/O; the shells guard
    :meth:`needs_login` and :func:`login_flow` with their own lock."""

    def __init__(self, api_key: SecretStr, auto_refresh: bool, *, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._api_key = api_key
        self.auto_refresh = auto_refresh
        self._clock = clock
        self._wall_clock = wall_clock
        self.form_login = False
        self.refused: AuthenticationError | None = None
        # (generation, headers, ends_at) replaced whole, so a reader never sees half a login
        self._current: tuple[int, dict[str, str], float | None] | None = None
        self._generation = 0

    def __repr__(self) -> str:
        return f"Session(logged_in={self._current is not None}, auto_refresh={self.auto_refresh})"

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("A client's session cannot be pickled; pickle the settings and make a new client.")

    def needs_login(self) -> bool:
        current = self._current
        if current is None:
            return True
        ends_at = current[2]
        return self.auto_refresh and ends_at is not None and self._clock() >= ends_at - RENEW_MARGIN

    def credentials(self) -> tuple[int, dict[str, str]]:
        """The login generation and the headers that carry the session (the cookie travels by itself)."""
        current = self._current
        return (current[0], current[1]) if current is not None else (0, {})

    def invalidate(self, generation: int) -> None:
        """The server refused the session of ``generation``: log in again, unless that already happened."""
        current = self._current
        if current is not None and current[0] == generation:
            self._current = None

    def login_request(self) -> Request:
        key = self._api_key.get_secret_value()
        if self.form_login:  # an older server: the key as both form fields
            body = urllib.parse.urlencode({"username": key, "password": key}).encode()
            return Request("POST", FORM_LOGIN_PATH, body, {"Content-Type": "application/x-www-form-urlencoded"},
                           authenticated=False, idempotent=True)
        return Request("POST", LOGIN_PATH, None, {"X-API-Key": key}, authenticated=False, idempotent=True)

    def accept(self, answer: Answer) -> None:
        """A 200 login answer: the cookies it set and the token from its body carry the session; the
        end comes from ``expires_in``, else from the token's ``exp`` claim, else it is unknown.

        The cookies are kept here, not in the HTTP library's jar: a client talks to one origin and
        follows no redirect, so they are scoped to it by construction, and one ``Cookie`` header
        costs nothing where a jar checks its policy on every request."""
        try:
            body = json.loads(answer.content) if answer.content else {}
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = {}
        body = body if isinstance(body, dict) else {}
        token = body.get("access_token") if isinstance(body.get("access_token"), str) else None
        expires_in = body.get("expires_in")
        if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
            ends_at: float | None = self._clock() + float(expires_in)
        else:
            exp = jwt_expiry(token or answer.cookies.get("access_token"))
            ends_at = self._clock() + (exp - self._wall_clock()) if exp is not None else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if answer.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in answer.cookies.items())
        self._generation += 1
        self._current = (self._generation, headers, ends_at)


def jwt_expiry(token: str | None) -> float | None:
    """The ``exp`` claim of a JWT, read without verifying it (only to know when to renew)."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


class Policy:
    """The retry settings of one client: ``max_retries`` and the random factor of the backoff."""

    def __init__(self, max_retries: int, jitter: Callable[[], float] = random.random) -> None:
        self.max_retries = max_retries
        self.jitter = jitter

    def wait(self, request: Request, retries: int, seconds: float, why: str) -> Sleep:
        return Sleep(seconds, f"{request.action}: {why}; retry {retries + 1} of {self.max_retries} "
                              f"in {seconds:.2f} s")


def request_flow(request: Request, policy: Policy, session: Session | None) -> Flow[Answer]:
    """One request to a 2xx answer, after the renewal and retries docs/protocol.md section 10 allows.

    One loop and one budget: at most ``max_retries`` repeats, whatever caused them, each
    sending ``request`` unchanged. A renewal on 401 is not a retry.
    """
    retries, renewed = 0, False
    while True:
        generation, auth_headers = 0, dict[str, str]()
        if request.authenticated and session is not None:
            if session.needs_login():
                yield Login()
            generation, auth_headers = session.credentials()
        to_send = request if not auth_headers else Request(
            request.method, request.path, request.content, {**request.headers, **auth_headers}, request.params,
            request.stream, request.authenticated, request.idempotent)
        try:
            answer = yield Send(to_send)
        except NetworkError as failure:
            if failure.request_sent is not False and not request.repeatable_after_sending:
                raise not_repeated(failure) from failure.__cause__
            if retries >= policy.max_retries:
                raise
            yield policy.wait(request, retries, backoff_delay(retries, policy.jitter), "network error")
            retries += 1
            continue
        if answer.status < 300:
            return answer  # type: ignore[no-any-return]
        error = error_from_answer(answer.status, answer.content, answer.headers, request.action)
        if answer.status == 401 and session is not None and request.authenticated and session.auto_refresh \
                and not renewed:
            session.invalidate(generation)
            renewed = True
            continue
        if should_retry(answer.status) and retries < policy.max_retries:
            delay = retry_delay(retries, parse_retry_after(answer.headers.get("retry-after")), policy.jitter)
            if delay is not None:
                yield policy.wait(request, retries, delay, f"status {answer.status}")
                retries += 1
                continue
        raise error


def login_flow(session: Session, policy: Policy, refused_hint: str = "") -> Flow[None]:
    """Log in with the key (docs/protocol.md section 2): ``X-API-Key``, and the form only if the
    server has no such endpoint. A refused key is never tried again."""
    if session.refused is not None:
        raise _copy(session.refused)
    while True:
        try:
            answer = yield from request_flow(session.login_request(), policy, None)
        except IndoxRouterError as error:
            if error.status_code in (404, 405) and not session.form_login:
                session.form_login = True
                continue
            if error.status_code in (401, 403):
                detail = error.message.split(" failed: ", 1)[-1].rstrip(".")
                session.refused = AuthenticationError(
                    f"The server refused the API key: {detail}.{refused_hint}", status_code=error.status_code,
                    error_type=error.error_type, request_id=error.request_id)
                raise _copy(session.refused) from None
            raise
        session.accept(answer)
        return


def not_repeated(failure: NetworkError) -> NetworkError:
    """``failure`` told as what it is for a request that must not be sent twice."""
    return type(failure)(f"{failure.message} The request may have been processed (a generation may already "
                         "be running and billed), so it was not repeated.", request_sent=failure.request_sent,
                         status_code=failure.status_code, error_type=failure.error_type,
                         request_id=failure.request_id)


def _copy(error: AuthenticationError) -> AuthenticationError:
    return AuthenticationError(error.message, status_code=error.status_code, error_type=error.error_type,
                               request_id=error.request_id)
