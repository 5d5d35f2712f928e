"""An OpenAI-compatible facade under ``/openai/v1``, backed by the same local models.

Any OpenAI client (the ``openai`` SDK, langchain-openai, llama-index-llms-openai)
can use the local server through it, and the benchmarks measure those clients
against ours on exactly the same backend. It takes the API key itself as the
bearer token (as OpenAI does) or an access token; model names may be given
without their provider (``gpt-4o-mini``). Errors come in OpenAI's form,
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .accounts import Account
from .catalogue import CHAT, COMPLETION, Model
from .engine.chat import Generation, generate_chat, generate_completion
from .errors import ServerError, invalid
from .parsing import EmbeddingRequest, parse_chat, parse_completion, parse_embeddings, parse_image
from .responses import answering_errors
from .service import (
    authenticate,
    bill_generation,
    check_budget,
    json_body,
    openai_usage,
    require_credits,
    run_embeddings,
    run_images,
    state_of,
)
from .streams import sse_response, tool_call_deltas

PREFIX = "/openai/v1"
_NAMED = ("model", "messages", "prompt", "temperature", "max_tokens", "max_completion_tokens", "stream",
          "stream_options", "n")


def _openai_error(error: ServerError, request: Request) -> Response:
    body = {"error": {"message": error.detail, "type": error.error_type, "param": None, "code": error.error_type}}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


openai_endpoint = answering_errors(_openai_error)


def _model_id(request: Request, name: Any) -> str:
    """``provider/model`` for an OpenAI ``model`` field, which may leave the provider out."""
    if not isinstance(name, str) or not name:
        raise ServerError("validation_error", "Field 'model' is required.")
    catalogue = state_of(request).catalogue
    provider = name.partition("/")[0]
    if provider in catalogue.providers:
        return name
    owners = sorted((m.provider != "openai", m.full_id) for m in catalogue.models.values() if m.id == name)
    if not owners:
        raise ServerError("model_not_found", f"The model '{name}' does not exist.")
    return owners[0][1]


def _native_body(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI request body in the native form the parsers read."""
    if body.get("n") not in (None, 1):
        raise invalid("Only n=1 is supported.")
    native = {"model": _model_id(request, body.get("model")), "temperature": body.get("temperature"),
              "max_tokens": body.get("max_completion_tokens", body.get("max_tokens")),
              "stream": body.get("stream"),
              "additional_params": {k: v for k, v in body.items() if k not in _NAMED}}
    for key in ("messages", "prompt"):
        if key in body:
            native[key] = body[key]
    return native


def _head(request: Request, model: Model, kind: str) -> dict[str, Any]:
    prefix = "chatcmpl-" if kind.startswith("chat") else "cmpl-"
    return {"id": prefix + request.state.request_id[4:], "object": kind, "created": int(time.time()),
            "model": model.id}


def _stream_events(request: Request, account: Account, model: Model, generation: Generation, chat: bool,
                   include_usage: bool) -> Callable[[], Iterator[dict[str, Any]]]:
    head = _head(request, model, "chat.completion.chunk" if chat else "text_completion")

    def choice(delta: dict[str, Any] | str, finish: str | None = None) -> dict[str, Any]:
        part = {"delta": delta} if chat else {"text": delta}
        return {**head, "choices": [{"index": 0, **part, "logprobs": None, "finish_reason": finish}]}

    def events() -> Iterator[dict[str, Any]]:
        if chat:
            yield choice({"role": "assistant", "content": ""})
        for token in generation.tokens:
            yield choice({"content": token} if chat else token)
        for delta in tool_call_deltas(generation.tool_calls):
            yield choice(delta)
        bill_generation(account, model, generation)
        yield choice({} if chat else "", generation.finish_reason)
        if include_usage:
            yield {**head, "choices": [], "usage": openai_usage(generation)}

    return events


@openai_endpoint
async def chat_completions(request: Request) -> Response:
    account = authenticate(request, api_key_ok=True)
    body = await json_body(request)
    chat = parse_chat(_native_body(request, body))
    model = state_of(request).resolve_model(chat.model, CHAT)
    require_credits(account)
    generation = generate_chat(chat, seed=chat.model + repr(chat.messages))
    check_budget(model, chat.max_tokens, generation.prompt_tokens)
    if chat.stream:
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        return sse_response(request, "/chat/completions",
                            _stream_events(request, account, model, generation, True, include))
    bill_generation(account, model, generation)
    message: dict[str, Any] = {"role": "assistant", "content": generation.text or None, "refusal": None}
    if generation.tool_calls:
        message["tool_calls"] = generation.tool_calls
    return JSONResponse({**_head(request, model, "chat.completion"), "choices": [
        {"index": 0, "message": message, "logprobs": None, "finish_reason": generation.finish_reason}],
        "usage": openai_usage(generation)})


@openai_endpoint
async def completions(request: Request) -> Response:
    account = authenticate(request, api_key_ok=True)
    body = await json_body(request)
    completion = parse_completion(_native_body(request, body))
    model = state_of(request).resolve_model(completion.model, COMPLETION)
    require_credits(account)
    generation = generate_completion(completion)
    check_budget(model, completion.max_tokens, generation.prompt_tokens)
    if completion.stream:
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        return sse_response(request, "/completions",
                            _stream_events(request, account, model, generation, False, include))
    bill_generation(account, model, generation)
    return JSONResponse({**_head(request, model, "text_completion"), "choices": [
        {"index": 0, "text": generation.text, "logprobs": None, "finish_reason": generation.finish_reason}],
        "usage": openai_usage(generation)})


def _embedding_texts(value: Any) -> list[str]:
    """OpenAI's ``input``: a string, strings, or token ids (embedded as their id text)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [" ".join(map(str, value))]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, list) and all(isinstance(v, list) and all(isinstance(t, int) for t in v) for v in value):
        return [" ".join(map(str, v)) for v in value]
    raise ServerError("validation_error", "Field 'input' must be a string, a list of strings or of token ids.")


@openai_endpoint
async def embeddings(request: Request) -> Response:
    account = authenticate(request, api_key_ok=True)
    body = await json_body(request)
    extra = {k: body[k] for k in ("dimensions", "encoding_format") if body.get(k) is not None}
    wanted: EmbeddingRequest = parse_embeddings({"model": _model_id(request, body.get("model")),
                                                 "text": _embedding_texts(body.get("input")),
                                                 "additional_params": extra})
    done = run_embeddings(request, account, wanted)
    data = [{"object": "embedding", **item} for item in done.items]
    return JSONResponse({"object": "list", "data": data, "model": done.model.id,
                         "usage": {"prompt_tokens": done.tokens, "total_tokens": done.tokens}})


@openai_endpoint
async def images(request: Request) -> Response:
    account = authenticate(request, api_key_ok=True)
    body = await json_body(request)
    named = {k: body[k] for k in ("size", "n", "response_format", "quality", "style") if body.get(k) is not None}
    wanted = parse_image({**named, "model": _model_id(request, body.get("model") or "dall-e-2"),
                          "prompt": body.get("prompt")})
    done = run_images(request, account, wanted)
    return JSONResponse({"created": int(time.time()), "data": done.items})


@openai_endpoint
async def models(request: Request) -> Response:
    authenticate(request, api_key_ok=True)
    return JSONResponse({"object": "list", "data": [
        {"id": m.full_id, "object": "model", "created": 0, "owned_by": m.provider}
        for m in state_of(request).catalogue.models.values()]})


ROUTES = [
    Route(f"{PREFIX}/chat/completions", chat_completions, methods=["POST"]),
    Route(f"{PREFIX}/completions", completions, methods=["POST"]),
    Route(f"{PREFIX}/embeddings", embeddings, methods=["POST"]),
    Route(f"{PREFIX}/images/generations", images, methods=["POST"]),
    Route(f"{PREFIX}/models", models, methods=["GET"]),
]
