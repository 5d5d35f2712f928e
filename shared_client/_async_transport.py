"""The asynchronous shell's I/O: one ``httpx.AsyncClient``, and its exceptions mapped to ours."""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import logging
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from ._protocol import Answer, Request
from .exceptions import APIError, IndoxRouterError, NetworkError, RequestTimeoutError

logger = logging.getLogger("shared_client")
USER_AGENT = "indox-integrations/0.1 (shared_client; python-httpx)"
DRAIN_SECONDS = 0.5
INLINE_DRAIN_SECONDS = 0.01  # how long the caller gives the drain: the end has usually come with [DONE]
# As the openai SDK has them: enough connections that hundreds of concurrent calls do not queue, and
# 100 kept idle, so that a burst of concurrent calls finds its connections open the next time. Idle
# connections expire after 4 s, before a server that keeps them 5 s (uvicorn, many proxies) closes
# them under a request: a POST caught in that race could not be repeated (docs/protocol.md section 10).
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=4.0)


@contextlib.contextmanager
def map_exceptions(action: str) -> Iterator[None]:
    """Turn httpx's exceptions into ours, in this one place, keeping the cause.

    ``request_sent`` says whether the request may have reached the server, which
    decides whether a POST may be repeated (docs/protocol.md section 10).
    """
    try:
        yield
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise RequestTimeoutError(f"{action} could not connect in time: {_reason(exc)}",
                                  request_sent=False) from exc
    except httpx.TimeoutException as exc:
        raise RequestTimeoutError(f"{action} timed out waiting for the server: {_reason(exc)}",
                                  request_sent=True) from exc
    except (httpx.ConnectError, httpx.ProxyError, httpx.UnsupportedProtocol) as exc:
        raise NetworkError(f"{action} could not connect: {_reason(exc)}", request_sent=False) from exc
    except (httpx.TransportError, httpx.DecodingError, httpx.StreamError, OSError) as exc:
        raise NetworkError(f"{action} failed on the network: {_reason(exc)}", request_sent=True) from exc


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _NoCookieStore(http.cookiejar.DefaultCookiePolicy):
    """The client's own jar keeps nothing: the core's ``Session`` holds the login's cookies."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


class AsyncTransport:
    """Sends requests under the API root over one ``httpx.AsyncClient`` (which belongs to the
    event loop it was first used in)."""

    def __init__(self, api_root: str, connect_timeout: float, read_timeout: float) -> None:
        self.api_root = api_root
        # Direct connections go through a lighter pool and asyncio's own protocols (see
        # _direct_transport for why); behind a proxy (from the environment, as httpx reads it)
        # httpx's own transport does everything as usual.
        from ._direct_transport import DirectTransport  # httpcore: loaded by the first client, not on import

        direct = None if urllib.request.getproxies() else DirectTransport(LIMITS)
        self.client = httpx.AsyncClient(
            transport=direct,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
            limits=LIMITS, follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            cookies=httpx.Cookies(http.cookiejar.CookieJar(policy=_NoCookieStore())))
        self._draining: set[asyncio.Task[None]] = set()
        self.closed = False

    async def send(self, request: Request) -> Answer:
        """The answer to ``request``; a streamed 2xx answer's body is left unread, in ``Answer.stream``."""
        action = request.action
        started = time.perf_counter()
        with map_exceptions(action):
            built = self.client.build_request(request.method, self.api_root + request.path,
                                              content=request.content, headers=dict(request.headers),
                                              params=request.params)
            response = await self.client.send(built, stream=True)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s -> %d in %.1f ms (request %s)", action, response.status_code,
                         (time.perf_counter() - started) * 1000, response.headers.get("X-Request-ID", "-"))
        if response.is_redirect:
            await response.aclose()
            raise APIError(f"{action} was redirected to {response.headers.get('Location', '?')}; the client does "
                           "not follow redirects (credentials stay with base_url's origin). Set base_url to the "
                           "final address.", status_code=response.status_code)
        cookies = dict(response.cookies.items()) if not request.authenticated else {}
        answer = Answer(response.status_code, response.headers, cookies=cookies)
        if request.stream and response.status_code < 300:
            answer.stream = response
            return answer
        try:
            with map_exceptions(action):
                answer.content = await response.aread()
        except NetworkError:
            if response.status_code < 300:
                raise
            answer.content = b""  # an error answer whose body broke off still has its status
        finally:
            await response.aclose()
        return answer

    async def read(self, body: AsyncIterator[bytes], action: str) -> bytes:
        """The next bytes of a streamed body, as they arrive; ``b""`` at its end."""
        if self.closed:
            raise IndoxRouterError(f"{action}: the client was closed while this stream was open.")
        with map_exceptions(action):
            try:
                return await body.__anext__()
            except StopAsyncIteration:
                return b""

    async def release(self, response: httpx.Response, body: AsyncIterator[bytes]) -> None:
        """After a stream's ``[DONE]``: read the rest of the body so the connection goes back to the
        pool. Usually it came with ``[DONE]`` and this ends at once; otherwise the caller goes on
        after ``INLINE_DRAIN_SECONDS`` and a task of its own keeps reading (a server that holds the
        stream open longer than ``DRAIN_SECONDS`` loses the connection instead)."""
        task = asyncio.get_running_loop().create_task(_drain(response, body))
        await asyncio.wait({task}, timeout=INLINE_DRAIN_SECONDS)
        if not task.done():
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)

    async def aclose(self) -> None:
        self.closed = True
        for task in list(self._draining):
            task.cancel()
        await self.client.aclose()


async def _drain(response: httpx.Response, body: AsyncIterator[bytes]) -> None:
    async def rest() -> None:
        async for _ in body:
            pass

    try:
        await asyncio.wait_for(rest(), DRAIN_SECONDS)
    except (asyncio.TimeoutError, httpx.HTTPError, OSError):
        pass
    finally:
        await response.aclose()
