"""The clients the framework integrations make for themselves: lazily, one per object (sync)
or per event loop and settings (async), never across a pickle or a fork."""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from ._client import Client

if TYPE_CHECKING:
    from ._async_client import AsyncClient


class LazyClient:
    """One ``Client`` per integration object, made on first use (so constructing
    an integration makes no request and needs no key yet), shared by its threads.

    Pickles as empty: the unpickled copy makes its own client when first used. A forked
    child (``os.fork``, ``multiprocessing``'s fork start method) drops the parent's client
    without closing it and makes its own on first use, so no connection pool is ever used by
    two processes. (When the dropped client is collected, the child's copies of its sockets
    are released; that leaves the parent's connections open.)
    """

    def __init__(self) -> None:
        self._client: Client | None = None
        self._lock = threading.Lock()
        _LAZY_CLIENTS.add(self)

    def get(self, *, client: Client | None, api_key: Any, base_url: str | None, timeout: float | None,
            max_retries: int) -> Client:
        if client is not None:
            return client
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = Client(**_client_kwargs(api_key, base_url, timeout, max_retries))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _forget_after_fork(self) -> None:
        """In a forked child: the parent's client is let go unclosed (closing could disturb the
        sockets the parent still uses), and the lock made anew (another thread of the parent may
        have held it at the fork, and that thread does not exist here)."""
        self._client = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyClient:
        return LazyClient()

    def __repr__(self) -> str:
        return f"LazyClient(made={self._client is not None})"


_LAZY_CLIENTS: weakref.WeakSet[LazyClient] = weakref.WeakSet()


def _forget_clients_after_fork() -> None:
    for lazy in list(_LAZY_CLIENTS):
        lazy._forget_after_fork()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere processes are spawned and receive pickles
    os.register_at_fork(after_in_child=_forget_clients_after_fork)


class LazyAsyncClient:
    """The ``AsyncClient`` of an integration object's async calls, made on first use.

    An ``httpx.AsyncClient`` belongs to the event loop that made it, and users do call
    ``asyncio.run(llm.ainvoke(...))`` twice in one script: a call from a new loop gets a
    client of its own. Clients live in one registry per event loop, shared by every object
    with the same settings (as one session and one connection pool), and are closed when
    their loop shuts down its async generators (``asyncio.run`` does, on the way out). So an
    object dropped mid-loop leaves nothing half-closed, and a service that makes an object
    per request does not make a client per request. Pickles as empty.
    """

    async def get(self, *, async_client: AsyncClient | None, api_key: Any, base_url: str | None,
                  timeout: float | tuple[float, float] | None, max_retries: int,
                  client: Client | None = None) -> AsyncClient:
        """``async_client`` if given; else this loop's client for the settings given, or for
        ``client``'s when an integration shares a sync ``Client`` (its async twin: the same key,
        URL, timeout and retries)."""
        if async_client is not None:
            return async_client
        if client is not None:
            settings = client._core.settings
            kwargs: dict[str, Any] = {"api_key": settings.api_key.get_secret_value(), "base_url": settings.base_url,
                                      "timeout": settings.timeout, "auto_refresh": settings.auto_refresh,
                                      "max_retries": settings.max_retries}
        else:
            kwargs = _client_kwargs(api_key, base_url, timeout, max_retries)
            if isinstance(kwargs["api_key"], SecretStr):
                kwargs["api_key"] = kwargs["api_key"].get_secret_value()
        return await _loop_clients(asyncio.get_running_loop()).get(kwargs)

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        pass

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyAsyncClient:
        return LazyAsyncClient()

    def __repr__(self) -> str:
        return "LazyAsyncClient()"


class _LoopClients:
    """One event loop's clients, by settings; each closed by an async generator the loop finalizes."""

    def __init__(self) -> None:
        self._clients: dict[tuple[Any, ...], tuple[AsyncClient, AsyncGenerator[None, None]]] = {}

    async def get(self, kwargs: dict[str, Any]) -> AsyncClient:
        key = tuple(sorted((name, repr(value)) for name, value in kwargs.items()))
        found = self._clients.get(key)
        if found is not None and not found[0].closed:
            return found[0]
        from ._async_client import AsyncClient  # httpx: loaded by the first async call, not on import

        made = AsyncClient(**kwargs)
        keeper = _close_with_the_loop(made)
        self._clients[key] = (made, keeper)  # holding the generator keeps it from being finalized early
        await keeper.__anext__()  # now the loop knows it, and closes it at shutdown_asyncgens()
        return made

    def __len__(self) -> int:
        return len(self._clients)


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = weakref.WeakKeyDictionary()
_BY_LOOP_LOCK = threading.Lock()


def _loop_clients(loop: asyncio.AbstractEventLoop) -> _LoopClients:
    with _BY_LOOP_LOCK:  # loops of several threads may ask at once
        found = _BY_LOOP.get(loop)
        if found is None:
            found = _BY_LOOP[loop] = _LoopClients()
        return found


async def _close_with_the_loop(client: AsyncClient) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await client.aclose()


def _client_kwargs(api_key: Any, base_url: str | None, timeout: float | tuple[float, float] | None,
                   max_retries: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"api_key": api_key, "max_retries": max_retries}
    if base_url:
        kwargs["base_url"] = base_url
    if timeout is not None:
        kwargs["timeout"] = timeout
    return kwargs
