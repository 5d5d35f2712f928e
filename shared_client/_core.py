"""Every public call of the client as a sans-I/O flow (see ``_protocol``): request building,
argument checks and answer parsing, shared by ``Client`` and ``AsyncClient``."""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any

from . import _validation as check
from . import _wire as wire
from ._config import API_KEY_ENV, BASE_URL_ENV, LOCAL_SERVER_KEY, Settings
from ._errors import error_from_event
from ._protocol import Answer, Flow, Policy, Request, Session, login_flow, request_flow
from ._sse import SSEDecoder
from .assembly import StreamAssembler
from .exceptions import IndoxRouterError, InvalidParametersError, NetworkError
from .models import (
    ChatMessage,
    EmbeddingResponse,
    ImageResponse,
    ModelInfo,
    StreamChunk,
)

logger = logging.getLogger("shared_client")
MAX_EMBEDDING_BATCH = 2048
DONE = "[DONE]"
# docs/protocol.md section 6: these image parameters travel top-level, the rest in additional_params
IMAGE_TOP_LEVEL = ("n", "quality", "style", "response_format", "user", "seed", "negative_prompt")
# a server that rejects base64 vectors answers one of these; the client then asks for floats
BASE64_REFUSALS = (400, 422, 500)
Message = dict[str, Any] | ChatMessage


class ClientCore:
    """The state both shells share (session, retry policy, what the server is known to refuse)
    and the flows of every call."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.session = Session(settings.api_key, settings.auto_refresh)
        self.policy = Policy(settings.max_retries)
        self.base64_embeddings = True
        hint = f" Check {API_KEY_ENV} (or api_key=...)"
        if settings.is_loopback:
            hint += f"; the local server's default key is {LOCAL_SERVER_KEY!r}"
        self._refused_hint = hint + "."
        self._unreachable_hint = (" Is the local server running? Start it with `python -m indox_server` "
                                  "(or `python3 dev.py server`)." if settings.is_loopback else
                                  f" Check base_url (or {BASE_URL_ENV}) and the network.")

    # --- plumbing -------------------------------------------------------------------------------

    def login(self) -> Flow[None]:
        return login_flow(self.session, self.policy, self._refused_hint)

    def send(self, request: Request) -> Flow[Answer]:
        """``request`` through the request loop; a failure to connect, even while logging in
        first, is told as a failure of this request, with the address and what to do."""
        try:
            return (yield from request_flow(request, self.policy, self.session))
        except NetworkError as error:
            if error.request_sent is not False:
                raise
            raise type(error)(f"{request.action} could not connect to {self.settings.api_root}: "
                              f"{_root_cause(error)}.{self._unreachable_hint}", request_sent=False,
                              status_code=error.status_code, request_id=error.request_id) from error.__cause__

    def _get(self, path: str) -> Flow[Any]:
        answer = yield from self.send(Request("GET", path))
        return wire.parse_json(answer.content, f"GET {path}", answer.request_id)

    def _post(self, path: str, body: dict[str, Any]) -> Flow[tuple[Any, str | None]]:
        answer = yield from self.send(Request("POST", path, check.encode_body(body), _JSON))
        return wire.parse_json(answer.content, f"POST {path}", answer.request_id), answer.request_id

    # --- generation -----------------------------------------------------------------------------

    def chat_body(self, messages: Sequence[Message], model: str, temperature: Any, max_tokens: Any,
                  stream: bool, byok_api_key: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        body = {"model": check.check_model(model), "messages": check.check_messages(messages),
                "temperature": temperature, "max_tokens": max_tokens, "stream": bool(stream),
                "byok_api_key": check.check_byok(byok_api_key), "additional_params": kwargs}
        check.check_generation(temperature, max_tokens)
        return body

    def completion_body(self, prompt: str, model: str, temperature: Any, max_tokens: Any, stream: bool,
                        byok_api_key: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        body = {"model": check.check_model(model), "prompt": check.check_prompt(prompt),
                "temperature": temperature, "max_tokens": max_tokens, "stream": bool(stream),
                "byok_api_key": check.check_byok(byok_api_key), "additional_params": kwargs}
        check.check_generation(temperature, max_tokens)
        return body

    def generate(self, path: str, body: dict[str, Any], cls: type[wire.ResponseT]) -> Flow[wire.ResponseT]:
        parsed, request_id = yield from self._post(path, body)
        return wire.generation_response(cls, parsed, f"POST {path}", body["model"], request_id)

    def open_stream(self, path: str, body: dict[str, Any]) -> Flow[Answer]:
        """A streamed answer whose 200 has begun; reading it is :class:`ChunkDecoder`'s job."""
        request = Request("POST", path, check.encode_body(body), _SSE, stream=True)
        return (yield from self.send(request))

    # --- embeddings and images ------------------------------------------------------------------

    def embeddings(self, text: str | Sequence[str], model: str, byok_api_key: str | None,
                   kwargs: dict[str, Any]) -> Flow[EmbeddingResponse]:
        """One vector per text, in input order; more than 2048 texts go in several requests.

        Vectors are asked for as base64 float32 unless the caller chose ``encoding_format``;
        a server that refuses that is asked again for floats, and from then on."""
        texts = check.check_texts(text)
        check.check_model(model)
        byok = check.check_byok(byok_api_key)
        parts = []
        for start in range(0, len(texts), MAX_EMBEDDING_BATCH):
            batch = texts[start:start + MAX_EMBEDDING_BATCH]
            parts.append((yield from self._embed_batch(batch, model, byok, kwargs)))
        return parts[0] if len(parts) == 1 else merge_embeddings(parts)

    def _embed_batch(self, texts: list[str], model: str, byok_api_key: str | None,
                     kwargs: dict[str, Any]) -> Flow[EmbeddingResponse]:
        ours = self.base64_embeddings and "encoding_format" not in kwargs
        extra = {**kwargs, "encoding_format": "base64"} if ours else kwargs
        body = {"model": model, "text": texts, "byok_api_key": byok_api_key, "additional_params": extra}
        try:
            parsed, request_id = yield from self._post("/embeddings", body)
        except IndoxRouterError as error:
            if not ours or error.status_code not in BASE64_REFUSALS:
                raise
            logger.info("POST /embeddings: the server refused base64 vectors (%s); asking for floats from now on",
                        error.status_code)
            self.base64_embeddings = False
            body["additional_params"] = kwargs
            parsed, request_id = yield from self._post("/embeddings", body)
        return wire.embedding_response(parsed, "POST /embeddings", model, request_id, len(texts))

    def image(self, prompt: str, model: str, size: Any, byok_api_key: str | None,
              kwargs: dict[str, Any]) -> Flow[ImageResponse]:
        body: dict[str, Any] = {"model": check.check_model(model), "prompt": check.check_prompt(prompt),
                                "byok_api_key": check.check_byok(byok_api_key), "size": check.check_size(size)}
        extra = dict(kwargs)
        for name in IMAGE_TOP_LEVEL:
            if extra.get(name) is not None:
                body[name] = extra.pop(name)
            else:
                extra.pop(name, None)
        body["additional_params"] = extra
        parsed, request_id = yield from self._post("/images/generations", body)
        return wire.image_response(parsed, "POST /images/generations", model, request_id)

    # --- catalogue and account ------------------------------------------------------------------

    def providers(self) -> Flow[list[dict[str, Any]]]:
        return wire.providers((yield from self._get("/models")), "GET /models")

    def models(self, provider: str | None) -> Flow[dict[str, list[dict[str, Any]]]]:
        if provider is None:
            return wire.models_by_provider((yield from self._get("/models")), "GET /models")
        path = f"/models/{_segment(check.check_provider(provider))}"
        return wire.models_by_provider((yield from self._get(path)), f"GET {path}", one=True)

    def model_info(self, provider: str, model: str) -> Flow[ModelInfo]:
        check.check_provider(provider)
        if not isinstance(model, str) or not model.strip():
            raise InvalidParametersError(f"model must be a model id such as 'gpt-4o-mini'; got {model!r}.")
        path = f"/models/{_segment(provider)}/{urllib.parse.quote(model, safe='/')}"
        return wire.model_info((yield from self._get(path)), f"GET {path}", provider)

    def get_usage(self) -> Flow[dict[str, Any]]:
        found = yield from self._get("/user/usage")
        return wire.expect(found, dict, "the usage body", "GET /user/usage", None)  # type: ignore[no-any-return]

    def get_user_info(self) -> Flow[dict[str, Any]]:
        found = yield from self._get("/user")
        return wire.expect(found, dict, "the user body", "GET /user", None)  # type: ignore[no-any-return]


class ClientSettings:
    """The read-only settings ``Client`` and ``AsyncClient`` both show, and their repr (no secrets)."""

    _core: ClientCore

    @property
    def base_url(self) -> str:
        return self._core.settings.base_url

    @property
    def api_root(self) -> str:
        """Where every endpoint lives (docs/protocol.md section 1), e.g. ``https://api.indoxrouter.com/api/v1``."""
        return self._core.settings.api_root

    @property
    def timeout(self) -> float | tuple[float, float]:
        return self._core.settings.timeout

    @property
    def auto_refresh(self) -> bool:
        return self._core.settings.auto_refresh

    @property
    def max_retries(self) -> int:
        return self._core.settings.max_retries

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(base_url={self.base_url!r}, timeout={self.timeout!r}, "
                f"auto_refresh={self.auto_refresh}, max_retries={self.max_retries})")

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(f"A {type(self).__name__} holds a connection pool and a session and cannot be pickled; "
                        "the framework integrations pickle their settings and make a client per process.")


class ChunkDecoder:
    """Bytes of a streamed answer in, :class:`StreamChunk` out, as each event completes (no I/O).

    Ends at ``[DONE]`` (``done``); an error event raises the section 9 exception;
    :meth:`end` raises :class:`NetworkError` for a stream cut before ``[DONE]``.
    """

    def __init__(self, action: str, request_id: str | None) -> None:
        self.action = action
        self.request_id = request_id
        self.done = False
        self._sse = SSEDecoder()

    def feed(self, data: bytes) -> Iterator[StreamChunk]:
        """The chunks ``data`` completes, in order; an error event raises where it stands."""
        for event in self._sse.feed(data):
            if event.data == DONE:
                self.done = True
                return
            yield self._chunk(event.data)

    def _chunk(self, data: str) -> StreamChunk:
        try:
            payload = json.loads(data)
        except (ValueError, RecursionError):
            return wire.raw_text_chunk(data)
        if isinstance(payload, str):
            return wire.raw_text_chunk(payload)
        if isinstance(payload, dict) and "error" in payload and not payload.get("choices"):
            raise error_from_event(payload["error"], self.action, _str(payload.get("request_id")) or self.request_id)
        return wire.stream_chunk(payload, self.action)

    def end(self) -> None:
        if not self.done:
            raise NetworkError(f"{self.action}: the stream was cut before [DONE]; the answer is incomplete.",
                               request_id=self.request_id, request_sent=True)


def assemble(assembler: StreamAssembler, cls: type[wire.ResponseT], model: str,
             action: str, request_id: str | None) -> wire.ResponseT:
    """The whole answer from its chunks, as the non-streamed call would have given it."""
    if assembler.usage is None:
        logger.info("%s: the stream carried no usage; reporting zero tokens", action)
    response = assembler.response(cls, model)
    if response.request_id is None and request_id is not None:
        response = response.model_copy(update={"request_id": request_id})
    return response  # type: ignore[return-value]


def merge_embeddings(parts: list[EmbeddingResponse]) -> EmbeddingResponse:
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


def _root_cause(error: BaseException) -> str:
    """The innermost OS-level reason (``Connection refused``, a DNS failure), else the error itself."""
    seen: set[int] = set()
    current: BaseException | None = error
    reason = str(error)
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            number = current.errno  # asyncio words ECONNREFUSED its own way; the errno says it plainly
            reason = os.strerror(number) if isinstance(number, int) and number > 0 else current.strerror
        nested = [a for a in current.args if isinstance(a, BaseException)]
        current = current.__cause__ or current.__context__ or getattr(current, "reason", None) \
            or (nested[0] if nested else None)
    return reason


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


_JSON = {"Content-Type": "application/json"}
_SSE = {"Content-Type": "application/json", "Accept": "text/event-stream", "Accept-Encoding": "identity"}
