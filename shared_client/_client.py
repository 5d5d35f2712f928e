"""``Client``: the documented indoxRouter API over the wire protocol."""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal, overload

import requests
from pydantic import SecretStr

from . import _validation as check
from . import _wire as wire
from ._auth import TokenManager
from ._retry import backoff_delay, retry_delay, should_retry
from ._streaming import ChunkStream
from ._transport import Transport, map_exceptions
from .assembly import StreamAssembler
from .exceptions import (
    AuthenticationError,
    IndoxRouterError,
    InsecureBaseURLWarning,
    InvalidParametersError,
    NetworkError,
    error_from_response,
    parse_retry_after,
)
from .models import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    EmbeddingResponse,
    ImageResponse,
    ModelInfo,
    StreamChunk,
)

DEFAULT_BASE_URL = "https://api.indoxrouter.com/v1"
API_KEY_ENV = "INDOX_ROUTER_API_KEY"
BASE_URL_ENV = "INDOX_ROUTER_BASE_URL"
MAX_EMBEDDING_BATCH = 2048
DEFAULT_POOL_SIZE = 64

logger = logging.getLogger("shared_client")
Message = dict[str, Any] | ChatMessage


def _resolve_base_url(base_url: str | None) -> str:
    if base_url is None or base_url == DEFAULT_BASE_URL:
        base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(base_url, str):
        raise InvalidParametersError(f"base_url must be a string; got {type(base_url).__name__}.")
    parts = urllib.parse.urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParametersError(f"base_url must be an http:// or https:// URL; got {base_url!r}.")
    if parts.username or parts.password:
        raise InvalidParametersError("base_url must not carry credentials; pass api_key instead.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        warnings.warn(f"base_url {base_url!r} is plain http:// to another machine: the API key and tokens "
                      "would cross the network unencrypted. Use https://.", InsecureBaseURLWarning,
                      stacklevel=4)
    return base_url.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _resolve_timeout(timeout: Any) -> tuple[float, float]:
    values = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if len(values) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                                   for v in values):
        raise InvalidParametersError(f"timeout must be positive seconds, or a (connect, read) pair; got {timeout!r}.")
    return float(values[0]), float(values[1])


class Client:
    """A client of the indoxRouter API: chat, completions, embeddings, images, catalogue, account.

    Constructing one makes no request; the first call logs in with the API key.
    Safe to share between threads. ``max_retries`` (beyond the documented API)
    is the retry policy of PROTOCOL.md section 9.
    """

    def __init__(self, api_key: str | None = None, base_url: str = DEFAULT_BASE_URL, timeout: float = 15,
                 auto_refresh: bool = True, max_retries: int = 2, *,
                 pool_maxsize: int = DEFAULT_POOL_SIZE) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        if isinstance(key, SecretStr):
            key = key.get_secret_value()
        if not isinstance(key, str) or not key.strip():
            raise AuthenticationError(f"No API key: pass api_key=... or set {API_KEY_ENV}.")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidParametersError(f"max_retries must be a whole number >= 0; got {max_retries!r}.")
        self.base_url = _resolve_base_url(base_url)
        self.timeout = timeout
        self.auto_refresh = bool(auto_refresh)
        self.max_retries = max_retries
        self._transport = Transport(self.base_url, _resolve_timeout(timeout), pool_maxsize)
        self._tokens = TokenManager(SecretStr(key.strip()), self._fetch_tokens, self.auto_refresh)
        self._closed = False
        self._sleep: Callable[[float], None] = time.sleep
        self._jitter: Callable[[], float] = random.random

    def __repr__(self) -> str:
        return (f"Client(base_url={self.base_url!r}, timeout={self.timeout!r}, "
                f"auto_refresh={self.auto_refresh}, max_retries={self.max_retries})")

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

    # --- the request loop: auth, retries, errors ----------------------------------------------

    def _fetch_tokens(self, path: str, body: dict[str, str]) -> Any:
        # a login runs nothing billable, so repeating it after a broken connection is safe
        response = self._send("POST", path, check.encode_body(body), authenticated=False, idempotent=True)
        return wire.parse_json(response.content, f"POST {path}", response.headers.get("X-Request-ID"))

    def _send(self, method: str, path: str, content: bytes | None = None, *,
              params: dict[str, str] | None = None, stream: bool = False, authenticated: bool = True,
              idempotent: bool | None = None) -> requests.Response:
        """A 2xx answer to one request, after the renewal and retries PROTOCOL.md section 10 allows.

        One loop and one budget: at most ``max_retries`` repeats, whatever caused them, and
        every repeat sends ``content`` unchanged. A request that may have reached the server
        is repeated only if ``idempotent`` (by default: only a GET).
        """
        if self._closed:
            raise IndoxRouterError("The client is closed; create a new Client to make requests.")
        action = f"{method} {path}"
        repeatable_after_sending = method == "GET" if idempotent is None else idempotent
        retries, renewed = 0, False
        while True:
            token = self._tokens.bearer() if authenticated else None
            try:
                response = self._transport.send(method, path, body=content, bearer=token, params=params,
                                                stream=stream)
            except NetworkError as failure:
                if failure.request_sent is not False and not repeatable_after_sending:
                    raise _not_repeated(failure) from failure.__cause__
                if retries >= self.max_retries:
                    raise
                self._wait(action, retries, backoff_delay(retries, self._jitter), "network error")
                retries += 1
                continue
            status = response.status_code
            if status < 300:
                return response
            try:
                with map_exceptions(action):  # a streamed answer's error body is read only now
                    error_body = response.content
            except NetworkError:
                error_body = b""
            error = error_from_response(status, error_body, response.headers, action)
            response.close()
            if status == 401 and token is not None and self.auto_refresh and not renewed:
                self._tokens.invalidate(token)
                renewed = True  # a renewal is not a retry: it takes nothing from the budget
                continue
            if should_retry(status) and retries < self.max_retries:
                delay = retry_delay(retries, parse_retry_after(response.headers.get("Retry-After")),
                                    self._jitter)
                if delay is not None:
                    self._wait(action, retries, delay, f"status {status}")
                    retries += 1
                    continue
            raise error

    def _wait(self, action: str, attempt: int, delay: float, why: str) -> None:
        logger.info("%s: %s; retry %d of %d in %.2f s", action, why, attempt + 1, self.max_retries, delay)
        self._sleep(delay)

    def _get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        response = self._send("GET", path, params=params)
        return wire.parse_json(response.content, f"GET {path}", response.headers.get("X-Request-ID"))

    def _post_json(self, path: str, body: dict[str, Any]) -> tuple[Any, str | None]:
        response = self._send("POST", path, check.encode_body(body))
        request_id = response.headers.get("X-Request-ID")
        return wire.parse_json(response.content, f"POST {path}", request_id), request_id

    def _open_stream(self, path: str, body: dict[str, Any], chat: bool) -> ChunkStream:
        response = self._send("POST", path, check.encode_body(body), stream=True)
        return ChunkStream(response, chat=chat, action=f"POST {path}", read_some=self._transport.read_some,
                           release=self._transport.release)

    # --- generation ---------------------------------------------------------------------------

    @overload
    def chat(self, messages: Sequence[Message], model: str, temperature: float = ...,
             max_tokens: int | None = ..., stream: Literal[False] = ..., return_generator: bool = ...,
             **kwargs: Any) -> ChatResponse: ...

    @overload
    def chat(self, messages: Sequence[Message], model: str, temperature: float = ...,
             max_tokens: int | None = ..., stream: bool = ..., return_generator: bool = ...,
             **kwargs: Any) -> ChatResponse | Iterator[StreamChunk]: ...

    def chat(self, messages: Sequence[Message], model: str, temperature: float = 0.7,
             max_tokens: int | None = None, stream: bool = False, return_generator: bool = False,
             **kwargs: Any) -> ChatResponse | Iterator[StreamChunk]:
        """A chat answer; with ``stream=True, return_generator=True`` an iterator of chunks.

        ``**kwargs`` (``top_p``, ``stop``, ``tools``, ``tool_choice``, ``response_format``, ...)
        travel unchanged as ``additional_params``.
        """
        body = {"model": check.check_model(model), "messages": check.check_messages(messages),
                "temperature": temperature, "max_tokens": max_tokens, "stream": bool(stream),
                "additional_params": kwargs}
        check.check_generation(temperature, max_tokens)
        return self._generate("/chat/completions", body, ChatResponse, stream, return_generator, chat=True)

    @overload
    def completion(self, prompt: str, model: str, temperature: float = ..., max_tokens: int | None = ...,
                   stream: Literal[False] = ..., return_generator: bool = ...,
                   **kwargs: Any) -> CompletionResponse: ...

    @overload
    def completion(self, prompt: str, model: str, temperature: float = ..., max_tokens: int | None = ...,
                   stream: bool = ..., return_generator: bool = ...,
                   **kwargs: Any) -> CompletionResponse | Iterator[StreamChunk]: ...

    def completion(self, prompt: str, model: str, temperature: float = 0.7, max_tokens: int | None = None,
                   stream: bool = False, return_generator: bool = False,
                   **kwargs: Any) -> CompletionResponse | Iterator[StreamChunk]:
        """A text completion of ``prompt``; streaming as for :meth:`chat`."""
        body = {"model": check.check_model(model), "prompt": check.check_prompt(prompt),
                "temperature": temperature, "max_tokens": max_tokens, "stream": bool(stream),
                "additional_params": kwargs}
        check.check_generation(temperature, max_tokens)
        return self._generate("/completions", body, CompletionResponse, stream, return_generator, chat=False)

    def _generate(self, path: str, body: dict[str, Any], cls: type[wire.ResponseT], stream: bool,
                  return_generator: bool, chat: bool) -> wire.ResponseT | Iterator[StreamChunk]:
        if not stream:
            parsed, request_id = self._post_json(path, body)
            return wire.generation_response(cls, parsed, f"POST {path}", body["model"], request_id)
        chunks = self._open_stream(path, body, chat)
        if return_generator:
            return chunks
        assembler = StreamAssembler()
        with chunks:
            for chunk in chunks:
                assembler.add(chunk)
        if assembler.usage is None:
            logger.warning("POST %s: the stream carried no usage; reporting zero tokens", path)
        return assembler.response(cls, body["model"])  # type: ignore[return-value]

    def stream_chat(self, messages: Sequence[Message], model: str, **kwargs: Any) -> ChunkStream:
        """Shorthand for ``chat(..., stream=True, return_generator=True)``, typed as a ChunkStream."""
        return self.chat(messages, model, stream=True, return_generator=True, **kwargs)  # type: ignore[return-value]

    def stream_completion(self, prompt: str, model: str, **kwargs: Any) -> ChunkStream:
        """Shorthand for ``completion(..., stream=True, return_generator=True)``."""
        return self.completion(prompt, model, stream=True, return_generator=True,  # type: ignore[return-value]
                               **kwargs)

    # --- embeddings and images ----------------------------------------------------------------

    def embeddings(self, text: str | Sequence[str], model: str, **kwargs: Any) -> EmbeddingResponse:
        """One vector per text, in input order; more than 2048 texts go in several requests.

        Vectors travel as base64 float32 unless ``encoding_format`` is given; either way
        ``data`` holds plain lists of floats.
        """
        texts = check.check_texts(text)
        check.check_model(model)
        kwargs.setdefault("encoding_format", "base64")
        parts = [self._embed_batch(texts[start:start + MAX_EMBEDDING_BATCH], model, kwargs)
                 for start in range(0, len(texts), MAX_EMBEDDING_BATCH)]
        return parts[0] if len(parts) == 1 else _merge_embeddings(parts)

    def _embed_batch(self, texts: list[str], model: str, extra: dict[str, Any]) -> EmbeddingResponse:
        body, request_id = self._post_json("/embeddings", {"model": model, "text": texts, "additional_params": extra})
        return wire.embedding_response(body, "POST /embeddings", model, request_id, len(texts))

    def image(self, prompt: str, model: str, size: str = "512x512", **kwargs: Any) -> ImageResponse:
        """Generated images; ``n`` and ``response_format`` (``url`` or ``b64_json``) go in ``kwargs``."""
        body = {"model": check.check_model(model), "prompt": check.check_prompt(prompt),
                "size": check.check_size(size), "additional_params": kwargs}
        parsed, request_id = self._post_json("/images/generations", body)
        return wire.image_response(parsed, "POST /images/generations", model, request_id)

    # --- catalogue and account ----------------------------------------------------------------

    def providers(self) -> list[dict[str, Any]]:
        """The providers the router offers."""
        found = self._get_json("/providers")
        wire.expect(found, list, "the provider list", "GET /providers", None)
        return [wire.expect(p, dict, "a provider", "GET /providers", None) for p in found]

    def models(self, provider: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Provider id -> its models, for every provider or the one given."""
        if provider is not None and (not isinstance(provider, str) or not provider or "/" in provider):
            raise InvalidParametersError(f"provider must be a provider id such as 'openai'; got {provider!r}.")
        found = self._get_json("/models", {"provider": provider} if provider else None)
        wire.expect(found, list, "the model list", "GET /models", None)
        result: dict[str, list[dict[str, Any]]] = {}
        for entry in found:
            wire.expect(entry, dict, "a provider entry", "GET /models", None)
            wire.expect(entry.get("id"), str, "a provider entry's id", "GET /models", None)
            models = wire.expect(entry.get("models", []), list, "a provider's models", "GET /models", None)
            result[entry["id"]] = [wire.expect(m, dict, "a model entry", "GET /models", None) for m in models]
        return result

    def model_info(self, provider: str, model: str) -> ModelInfo:
        """The catalogue entry of ``provider/model`` (the model id may contain ``/``)."""
        if not isinstance(provider, str) or not provider or "/" in provider:
            raise InvalidParametersError(f"provider must be a provider id such as 'openai'; got {provider!r}.")
        if not isinstance(model, str) or not model:
            raise InvalidParametersError(f"model must be a model id such as 'gpt-4o-mini'; got {model!r}.")
        path = f"/models/{urllib.parse.quote(provider, safe='')}/{urllib.parse.quote(model, safe='/')}"
        return wire.model_info(self._get_json(path), f"GET {path}", None)

    def get_usage(self) -> dict[str, Any]:
        """Requests, tokens and cost so far, in total and by model."""
        return wire.expect(self._get_json("/user/usage"), dict, "the usage body", "GET /user/usage", None)  # type: ignore[no-any-return]

    def get_user_info(self) -> dict[str, Any]:
        """The account's id, email, name, plan and credits."""
        return wire.expect(self._get_json("/user/info"), dict, "the user body", "GET /user/info", None)  # type: ignore[no-any-return]


def _not_repeated(failure: NetworkError) -> NetworkError:
    """``failure`` told as what it is for a request that must not be sent twice."""
    return type(failure)(f"{failure.message} The request may have been processed (a generation may already "
                         "be running and billed), so it was not repeated.", request_sent=failure.request_sent,
                         status_code=failure.status_code, error_type=failure.error_type,
                         request_id=failure.request_id)


def _merge_embeddings(parts: list[EmbeddingResponse]) -> EmbeddingResponse:
    first = parts[0]
    usage = first.usage.model_copy(update={
        "tokens_prompt": sum(p.usage.tokens_prompt for p in parts),
        "tokens_completion": sum(p.usage.tokens_completion for p in parts),
        "tokens_total": sum(p.usage.tokens_total for p in parts),
        "cost": sum(p.usage.cost for p in parts),
        "latency": sum(p.usage.latency for p in parts),
        "timestamp": parts[-1].usage.timestamp,
    })
    vectors = [vector for part in parts for vector in part.data]
    return first.model_copy(update={"data": vectors, "usage": usage})


IndoxRouter = Client
