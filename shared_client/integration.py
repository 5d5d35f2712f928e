"""What both framework adapters need, written once: the lazily made clients, constructor
arguments, image tools' requests and files, usage mapping, JSON-schema response formats and
bounded concurrency. The pieces live in private modules by job; this is their public face.

Nothing here imports a framework; ``langchain_indox`` and ``llamaindex_indox``
convert their own types and call these.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ._arguments import PROVIDER_PARAMETERS, argument_names, check_temperature, gather_extra_arguments
from ._config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from ._core import MAX_EMBEDDING_BATCH
from ._images import image_folder, image_request, save_images
from ._lazy import LazyAsyncClient, LazyClient
from .models import Usage

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
