"""What both framework adapters need, written once: the lazily made client, usage
mapping, JSON-schema response formats and saving generated images.

Nothing here imports a framework; ``langchain_indox`` and ``llamaindex_indox``
convert their own types and call these.
"""

from __future__ import annotations

import asyncio
import base64
import difflib
import hashlib
import os
import sys
import tempfile
import threading
import warnings
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic
from pydantic import SecretStr

from ._async_client import AsyncClient
from ._client import Client
from ._config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from ._core import MAX_EMBEDDING_BATCH
from .exceptions import InvalidParametersError
from .models import ImageResponse, Usage

T = TypeVar("T")

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "MAX_EMBEDDING_BATCH",
    "PROVIDER_PARAMETERS",
    "LazyAsyncClient",
    "LazyClient",
    "argument_names",
    "check_temperature",
    "full_model_name",
    "gather_bounded",
    "gather_extra_arguments",
    "image_folder",
    "image_request",
    "json_schema_format",
    "openai_usage",
    "save_images",
]

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


async def gather_bounded(calls: Sequence[Callable[[], Awaitable[T]]], limit: int,
                         on_done: Callable[[], None] | None = None) -> list[T]:
    """Await every call, at most ``limit`` at a time, and return their results in order.

    The first failure cancels the calls still running and is raised.
    """
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            result = await call()
        if on_done is not None:
            on_done()
        return result

    if len(calls) == 1:
        return [await one(calls[0])]
    tasks = [asyncio.ensure_future(one(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


# Parameters providers take that are not fields of the integrations: passed on, never taken for a typo.
PROVIDER_PARAMETERS = frozenset({
    "top_k", "top_p", "min_p", "seed", "user", "n", "stop", "logprobs", "top_logprobs", "logit_bias",
    "presence_penalty", "frequency_penalty", "repetition_penalty", "response_format", "tools", "tool_choice",
    "parallel_tool_calls", "reasoning_effort", "dimensions", "encoding_format", "quality", "style", "metadata",
    "service_tier", "safety_settings", "max_completion_tokens", "modalities", "prediction", "store",
})


def argument_names(model: type[pydantic.BaseModel]) -> set[str]:
    """Every keyword a pydantic model takes for its fields: names, aliases, validation aliases."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(name)
        if field.alias:
            names.add(field.alias)
        chosen = field.validation_alias
        choices = chosen.choices if isinstance(chosen, pydantic.AliasChoices) else [chosen]
        names.update(choice for choice in choices if isinstance(choice, str))
    return names


def gather_extra_arguments(values: Any, fields: set[str], into: str, owner: str) -> Any:
    """Constructor arguments that are no field of ``owner``: each is moved into ``values[into]``
    (sent with every call) with a warning that names it, as ``ChatOpenAI`` does; one that is
    a near-miss of a field (``modle``) raises at once instead of being sent."""
    if not isinstance(values, dict):
        return values
    unknown = [name for name in values if name not in fields]
    if not unknown:
        return values
    values = dict(values)
    extra = dict(values.get(into) or {})
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(fields), n=1, cutoff=0.75)
        # TypeError, as Python says it of a bad keyword; it also keeps pydantic from printing the
        # whole input (the API key with it) the way it does for a ValueError in a model validator
        if close and name not in PROVIDER_PARAMETERS:
            raise TypeError(f"{owner} got an unexpected keyword argument {name!r}; did you mean {close[0]!r}?")
        if name in extra:
            raise TypeError(f"{owner}: {name!r} is given both as an argument and in {into}; give it once.")
        warnings.warn(f"{owner}: {name!r} is not one of its fields; it is sent with every call as "
                      f"{into}[{name!r}].", UserWarning, stacklevel=_callers_level())
        extra[name] = values.pop(name)
    values[into] = extra
    return values


_LIBRARY_PARTS = ("pydantic", "langchain_core", "llama_index", "shared_client", "langchain_indox",
                  "llamaindex_indox")


def _callers_level() -> int:
    """The ``stacklevel`` of the first frame outside pydantic, the frameworks and this project's
    packages: where the user constructed the object, so the warning points there."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and any(f"{os.sep}{part}{os.sep}" in frame.f_code.co_filename
                                    for part in _LIBRARY_PARTS):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


def check_temperature(value: Any) -> Any:
    """The one message both frameworks give for a temperature out of range, at construction."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not 0 <= value <= 2):
        raise ValueError(f"temperature must be a number from 0 to 2; got {value!r}.")
    return value


def full_model_name(provider: str | None, model: str | None, requested: str) -> str:
    """The ``provider/model`` id that answered, falling back to the one requested."""
    if provider and model:
        return f"{provider}/{model}"
    return requested


def openai_usage(usage: Usage) -> dict[str, int]:
    """Usage in the OpenAI form (``prompt_tokens``, ...), as LlamaIndex's counters read it."""
    return {"prompt_tokens": usage.tokens_prompt, "completion_tokens": usage.tokens_completion,
            "total_tokens": usage.tokens_total}


def json_schema_format(name: str, schema: dict[str, Any], strict: bool | None = None) -> dict[str, Any]:
    """A ``response_format`` asking for JSON that matches ``schema``."""
    spec: dict[str, Any] = {"name": name, "schema": schema}
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


IMAGE_FORMATS = ("url", "b64_json")


def image_request(prompt: str, *, model: str, size: str, n: int, image_format: str,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``Client.image`` arguments both image tools send."""
    if image_format not in IMAGE_FORMATS:
        raise InvalidParametersError(f"image_format must be 'url' or 'b64_json'; got {image_format!r}.")
    return {"prompt": prompt, "model": model, "size": size, "n": n, "response_format": image_format,
            **(extra or {})}


_TEMPORARY_IMAGE_DIR: tuple[int, Path] | None = None


def image_folder(output_dir: str | Path | None) -> Path:
    """Where base64 images are saved: ``output_dir``, else a temporary folder of this process
    (made on first use), so nothing lands in the working directory unasked."""
    global _TEMPORARY_IMAGE_DIR
    if output_dir is not None:
        return Path(output_dir).expanduser().resolve()
    if _TEMPORARY_IMAGE_DIR is None or _TEMPORARY_IMAGE_DIR[0] != os.getpid():
        _TEMPORARY_IMAGE_DIR = (os.getpid(), Path(tempfile.mkdtemp(prefix="indox-images-")))
    return _TEMPORARY_IMAGE_DIR[1]


def save_images(response: ImageResponse, output_dir: str | Path | None, prompt: str) -> list[str]:
    """URLs as they are; base64 images written as PNG files into :func:`image_folder`.
    Absolute paths or URLs, in order."""
    results: list[str] = []
    folder: Path | None = None
    for position, item in enumerate(response.data):
        if item.startswith(("http://", "https://")):
            results.append(item)
            continue
        if folder is None:
            folder = image_folder(output_dir)
            folder.mkdir(parents=True, exist_ok=True)
        png = base64.b64decode(item)
        digest = hashlib.sha256(png).hexdigest()[:12]
        slug = "-".join("".join(c if c.isalnum() else " " for c in prompt.lower()).split()[:6]) or "image"
        path = folder / f"{slug}-{digest}-{position}.png"
        path.write_bytes(png)
        results.append(str(path))
    return results
