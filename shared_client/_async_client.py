"""``AsyncClient``: the same API as ``Client``, each call ``async``, the shell over ``httpx``.

It carries out the same core flows as ``Client`` (``_core``, ``_protocol``): it
sends with :class:`AsyncTransport`, sleeps with ``asyncio.sleep`` and shares one
login between concurrent tasks with an ``asyncio.Lock``. An ``AsyncClient``
belongs to the event loop it is first used in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

from ._async_streaming import AsyncChunkStream
from ._async_transport import AsyncTransport
from ._config import DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, resolve_settings
from ._core import ChunkDecoder, ClientCore, ClientSettings, Message, assemble
from ._protocol import Flow, Login, Send, Sleep
from .assembly import StreamAssembler
from .exceptions import IndoxRouterError, NetworkError
from .models import (
    ChatResponse,
    CompletionResponse,
    EmbeddingResponse,
    ImageResponse,
    ModelInfo,
    StreamChunk,
)

logger = logging.getLogger("shared_client")
T = TypeVar("T")


class AsyncClient(ClientSettings):
    """The indoxRouter API for ``asyncio``: the constructor and methods of :class:`Client`, awaited.

    Streaming: ``chunks = await client.chat(..., stream=True, return_generator=True)``, then
    ``async for chunk in chunks``. Constructing one makes no request; use it as
    ``async with AsyncClient(...) as client:`` or ``await client.aclose()`` at the end.
    """

    def __init__(self, api_key: str | None = None, base_url: str = DEFAULT_BASE_URL,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT, auto_refresh: bool = True,
                 max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        settings = resolve_settings(api_key, base_url, timeout, auto_refresh, max_retries)
        self._core = ClientCore(settings)
        self._transport = AsyncTransport(settings.api_root, settings.connect_timeout, settings.read_timeout)
        self._login_lock = asyncio.Lock()
        self._closed = False
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    # --- lifecycle ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Release the connection pool; later calls raise ``IndoxRouterError``."""
        self._closed = True
        await self._transport.aclose()

    @property
    def closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    # --- carrying out the core's steps --------------------------------------------------------

    async def _run(self, flow: Flow[T]) -> T:
        """Drive ``flow`` to its result: send what it asks, sleep when it says, log in when needed."""
        if self._closed:
            flow.close()
            raise IndoxRouterError("The client is closed; create a new AsyncClient to make requests.")
        reply: Any = None
        failure: BaseException | None = None
        while True:
            try:
                step = flow.send(reply) if failure is None else flow.throw(failure)
            except StopIteration as finished:
                return finished.value  # type: ignore[no-any-return]
            reply, failure = None, None
            if isinstance(step, Send):
                try:
                    reply = await self._transport.send(step.request)
                except NetworkError as error:
                    failure = error
            elif isinstance(step, Sleep):
                logger.info("%s", step.reason)
                await self._sleep(step.seconds)
            elif isinstance(step, Login):
                try:
                    await self._login()
                except IndoxRouterError as error:
                    failure = error

    async def _login(self) -> None:
        async with self._login_lock:  # concurrent tasks share one login
            if self._core.session.needs_login():
                await self._run(self._core.login())

    async def _stream(self, path: str, body: dict[str, Any]) -> AsyncChunkStream:
        answer = await self._run(self._core.open_stream(path, body))
        return AsyncChunkStream(answer.stream, ChunkDecoder(f"POST {path}", answer.request_id), self._transport)

    async def _generate(self, path: str, body: dict[str, Any], cls: type[T], return_generator: bool) -> Any:
        if not body["stream"]:
            return await self._run(self._core.generate(path, body, cls))
        chunks = await self._stream(path, body)
        if return_generator:
            return chunks
        assembler = StreamAssembler()
        async with chunks:
            async for chunk in chunks:
                assembler.add(chunk)
        return assemble(assembler, cls, body["model"], f"POST {path}", chunks.request_id)  # type: ignore[type-var]

    # --- generation ---------------------------------------------------------------------------

    @overload
    async def chat(self, messages: Sequence[Message], model: str, temperature: float = ...,
                   max_tokens: int | None = ..., stream: Literal[False] = ..., return_generator: bool = ...,
                   byok_api_key: str | None = ..., **kwargs: Any) -> ChatResponse: ...

    @overload
    async def chat(self, messages: Sequence[Message], model: str, temperature: float = ...,
                   max_tokens: int | None = ..., stream: bool = ..., return_generator: bool = ...,
                   byok_api_key: str | None = ..., **kwargs: Any) -> ChatResponse | AsyncIterator[StreamChunk]: ...

    async def chat(self, messages: Sequence[Message], model: str, temperature: float = 0.7,
                   max_tokens: int | None = None, stream: bool = False, return_generator: bool = False,
                   byok_api_key: str | None = None, **kwargs: Any) -> ChatResponse | AsyncIterator[StreamChunk]:
        """A chat answer; with ``stream=True, return_generator=True`` an async iterator of chunks."""
        body = self._core.chat_body(messages, model, temperature, max_tokens, stream, byok_api_key, kwargs)
        return await self._generate("/chat/completions", body, ChatResponse, return_generator)  # type: ignore[no-any-return]

    @overload
    async def completion(self, prompt: str, model: str, temperature: float = ..., max_tokens: int | None = ...,
                         stream: Literal[False] = ..., return_generator: bool = ..., byok_api_key: str | None = ...,
                         **kwargs: Any) -> CompletionResponse: ...

    @overload
    async def completion(self, prompt: str, model: str, temperature: float = ..., max_tokens: int | None = ...,
                         stream: bool = ..., return_generator: bool = ..., byok_api_key: str | None = ...,
                         **kwargs: Any) -> CompletionResponse | AsyncIterator[StreamChunk]: ...

    async def completion(self, prompt: str, model: str, temperature: float = 0.7, max_tokens: int | None = None,
                         stream: bool = False, return_generator: bool = False, byok_api_key: str | None = None,
                         **kwargs: Any) -> CompletionResponse | AsyncIterator[StreamChunk]:
        """A text completion of ``prompt``; streaming as for :meth:`chat`."""
        body = self._core.completion_body(prompt, model, temperature, max_tokens, stream, byok_api_key, kwargs)
        return await self._generate("/completions", body, CompletionResponse, return_generator)  # type: ignore[no-any-return]

    async def stream_chat(self, messages: Sequence[Message], model: str, **kwargs: Any) -> AsyncChunkStream:
        """Shorthand for ``await chat(..., stream=True, return_generator=True)``, typed as an AsyncChunkStream."""
        return await self.chat(messages, model, stream=True, return_generator=True, **kwargs)  # type: ignore[return-value]

    async def stream_completion(self, prompt: str, model: str, **kwargs: Any) -> AsyncChunkStream:
        """Shorthand for ``await completion(..., stream=True, return_generator=True)``."""
        return await self.completion(prompt, model, stream=True, return_generator=True,  # type: ignore[return-value]
                                     **kwargs)

    # --- embeddings and images ----------------------------------------------------------------

    async def embeddings(self, text: str | Sequence[str], model: str, byok_api_key: str | None = None,
                         **kwargs: Any) -> EmbeddingResponse:
        """One vector per text, in input order; more than 2048 texts go in several requests."""
        return await self._run(self._core.embeddings(text, model, byok_api_key, kwargs))

    async def image(self, prompt: str, model: str, size: str = "512x512", byok_api_key: str | None = None,
                    **kwargs: Any) -> ImageResponse:
        """Generated images; parameters as for :meth:`Client.image`."""
        return await self._run(self._core.image(prompt, model, size, byok_api_key, kwargs))

    # --- catalogue and account ----------------------------------------------------------------

    async def providers(self) -> list[dict[str, Any]]:
        """The providers the router offers (from ``GET /models``), each without its model list."""
        return await self._run(self._core.providers())

    async def models(self, provider: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Provider id -> its models, for every provider or the one given."""
        return await self._run(self._core.models(provider))

    async def model_info(self, provider: str, model: str) -> ModelInfo:
        """The catalogue entry of ``provider/model`` (the model id may contain ``/``)."""
        return await self._run(self._core.model_info(provider, model))

    async def get_usage(self) -> dict[str, Any]:
        """Requests, tokens and cost so far, in total and by model."""
        return await self._run(self._core.get_usage())

    async def get_user_info(self) -> dict[str, Any]:
        """The account's id, email, name, plan and credits (``GET /user``)."""
        return await self._run(self._core.get_user_info())
