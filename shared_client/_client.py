"""``Client``: the documented indoxRouter API, the synchronous shell over ``requests``.

Every decision (what to send, how to read the answer, when to retry or log in
again) is the core's (``_core``, ``_protocol``); this class only carries out
its steps: it sends with :class:`Transport` and sleeps with ``time.sleep``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

from ._config import DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, resolve_settings
from ._core import ChunkDecoder, ClientCore, ClientSettings, Message, assemble
from ._protocol import Flow, Login, Send, Sleep
from ._streaming import ChunkStream
from ._transport import Transport
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
DEFAULT_POOL_SIZE = 64
T = TypeVar("T")


class Client(ClientSettings):
    """A client of the indoxRouter API: chat, completions, embeddings, images, catalogue, account.

    Constructing one makes no request; the first call logs in with the API key.
    Safe to share between threads. ``max_retries`` (beyond the documented API)
    is the retry policy of docs/protocol.md section 10.
    """

    def __init__(self, api_key: str | None = None, base_url: str = DEFAULT_BASE_URL,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT, auto_refresh: bool = True,
                 max_retries: int = DEFAULT_MAX_RETRIES, *, pool_maxsize: int = DEFAULT_POOL_SIZE) -> None:
        settings = resolve_settings(api_key, base_url, timeout, auto_refresh, max_retries)
        self._core = ClientCore(settings)
        self._transport = Transport(settings.api_root, (settings.connect_timeout, settings.read_timeout),
                                    pool_maxsize)
        self._login_lock = threading.Lock()
        self._closed = False
        self._sleep: Callable[[float], None] = time.sleep

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the connection pool; later calls raise ``IndoxRouterError``."""
        self._closed = True
        self._transport.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- carrying out the core's steps --------------------------------------------------------

    def _run(self, flow: Flow[T]) -> T:
        """Drive ``flow`` to its result: send what it asks, sleep when it says, log in when needed."""
        if self._closed:
            flow.close()
            raise IndoxRouterError("The client is closed; create a new Client to make requests.")
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
                    reply = self._transport.send(step.request)
                except NetworkError as error:
                    failure = error
            elif isinstance(step, Sleep):
                logger.info("%s", step.reason)
                self._sleep(step.seconds)
            elif isinstance(step, Login):
                try:
                    self._login()
                except IndoxRouterError as error:
                    failure = error

    def _login(self) -> None:
        with self._login_lock:  # concurrent callers share one login
            if self._core.session.needs_login():
                self._run(self._core.login())

    def _stream(self, path: str, body: dict[str, Any]) -> ChunkStream:
        answer = self._run(self._core.open_stream(path, body))
        decoder = ChunkDecoder(f"POST {path}", answer.request_id)
        return ChunkStream(answer.stream, decoder, read_some=self._transport.read_some,
                           release=self._transport.release)

    def _generate(self, path: str, body: dict[str, Any], cls: type[T], return_generator: bool) -> Any:
        if not body["stream"]:
            return self._run(self._core.generate(path, body, cls))  # type: ignore[type-var]
        chunks = self._stream(path, body)
        if return_generator:
            return chunks
        assembler = StreamAssembler()
        with chunks:
            for chunk in chunks:
                assembler.add(chunk)
        return assemble(assembler, cls, body["model"], f"POST {path}", chunks.request_id)  # type: ignore[type-var]

    # --- generation ---------------------------------------------------------------------------

    @overload
    def chat(self, messages: Sequence[Message], model: str, temperature: float = ...,
             max_tokens: int | None = ..., stream: Literal[False] = ..., return_generator: bool = ...,
             byok_api_key: str | None = ..., **kwargs: Any) -> ChatResponse: ...

    @overload
    def chat(self, messages: Sequence[Message], model: str, temperature: float = ...,
             max_tokens: int | None = ..., stream: bool = ..., return_generator: bool = ...,
             byok_api_key: str | None = ..., **kwargs: Any) -> ChatResponse | Iterator[StreamChunk]: ...

    def chat(self, messages: Sequence[Message], model: str, temperature: float = 0.7,
             max_tokens: int | None = None, stream: bool = False, return_generator: bool = False,
             byok_api_key: str | None = None, **kwargs: Any) -> ChatResponse | Iterator[StreamChunk]:
        """A chat answer; with ``stream=True, return_generator=True`` an iterator of chunks.

        ``byok_api_key`` is your own key for the provider (a secret, never logged);
        ``**kwargs`` (``top_p``, ``stop``, ``tools``, ``tool_choice``, ``response_format``, ...)
        travel unchanged as ``additional_params``.
        """
        body = self._core.chat_body(messages, model, temperature, max_tokens, stream, byok_api_key, kwargs)
        return self._generate("/chat/completions", body, ChatResponse, return_generator)  # type: ignore[no-any-return]

    @overload
    def completion(self, prompt: str, model: str, temperature: float = ..., max_tokens: int | None = ...,
                   stream: Literal[False] = ..., return_generator: bool = ..., byok_api_key: str | None = ...,
                   **kwargs: Any) -> CompletionResponse: ...

    @overload
    def completion(self, prompt: str, model: str, temperature: float = ..., max_tokens: int | None = ...,
                   stream: bool = ..., return_generator: bool = ..., byok_api_key: str | None = ...,
                   **kwargs: Any) -> CompletionResponse | Iterator[StreamChunk]: ...

    def completion(self, prompt: str, model: str, temperature: float = 0.7, max_tokens: int | None = None,
                   stream: bool = False, return_generator: bool = False, byok_api_key: str | None = None,
                   **kwargs: Any) -> CompletionResponse | Iterator[StreamChunk]:
        """A text completion of ``prompt``; streaming as for :meth:`chat`."""
        body = self._core.completion_body(prompt, model, temperature, max_tokens, stream, byok_api_key, kwargs)
        return self._generate("/completions", body, CompletionResponse, return_generator)  # type: ignore[no-any-return]

    def stream_chat(self, messages: Sequence[Message], model: str, **kwargs: Any) -> ChunkStream:
        """Shorthand for ``chat(..., stream=True, return_generator=True)``, typed as a ChunkStream."""
        return self.chat(messages, model, stream=True, return_generator=True, **kwargs)  # type: ignore[return-value]

    def stream_completion(self, prompt: str, model: str, **kwargs: Any) -> ChunkStream:
        """Shorthand for ``completion(..., stream=True, return_generator=True)``."""
        return self.completion(prompt, model, stream=True, return_generator=True,  # type: ignore[return-value]
                               **kwargs)

    # --- embeddings and images ----------------------------------------------------------------

    def embeddings(self, text: str | Sequence[str], model: str, byok_api_key: str | None = None,
                   **kwargs: Any) -> EmbeddingResponse:
        """One vector per text, in input order; more than 2048 texts go in several requests.

        Vectors travel as base64 float32 unless ``encoding_format`` is given (or the server
        refuses base64); either way ``data`` holds plain lists of floats.
        """
        return self._run(self._core.embeddings(text, model, byok_api_key, kwargs))

    def image(self, prompt: str, model: str, size: str = "512x512", byok_api_key: str | None = None,
              **kwargs: Any) -> ImageResponse:
        """Generated images. ``n``, ``quality``, ``style``, ``response_format`` (``url`` or
        ``b64_json``), ``user``, ``seed`` and ``negative_prompt`` travel top-level; other
        ``kwargs`` as ``additional_params``."""
        return self._run(self._core.image(prompt, model, size, byok_api_key, kwargs))

    # --- catalogue and account ----------------------------------------------------------------

    def providers(self) -> list[dict[str, Any]]:
        """The providers the router offers (from ``GET /models``), each without its model list."""
        return self._run(self._core.providers())

    def models(self, provider: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Provider id -> its models, for every provider or the one given."""
        return self._run(self._core.models(provider))

    def model_info(self, provider: str, model: str) -> ModelInfo:
        """The catalogue entry of ``provider/model`` (the model id may contain ``/``)."""
        return self._run(self._core.model_info(provider, model))

    def get_usage(self) -> dict[str, Any]:
        """Requests, tokens and cost so far, in total and by model."""
        return self._run(self._core.get_usage())

    def get_user_info(self) -> dict[str, Any]:
        """The account's id, email, name, plan and credits (``GET /user``)."""
        return self._run(self._core.get_user_info())


IndoxRouter = Client
