"""The local server's routes: PROTOCOL.md endpoints under ``/v1``, test switches under ``/_local``."""

from __future__ import annotations

import base64
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .accounts import Account
from .catalogue import CHAT, COMPLETION, EMBEDDING, IMAGE, Model
from .engine.chat import Generation, generate_chat, generate_completion
from .engine.embedding import embed, to_base64
from .engine.image import render_png
from .engine.text import count_tokens
from .errors import ServerError, invalid, unauthenticated
from .faults import fault_from_json
from .middleware import ProtocolMiddleware, bearer_token
from .parsing import (
    Fields,
    parse_chat,
    parse_completion,
    parse_embeddings,
    parse_image,
    parse_json_object,
)
from .responses import envelope, error_response, usage_body
from .state import ServerConfig, ServerState
from .streams import chat_chunk, completion_chunk, sse_response, tool_call_deltas

logger = logging.getLogger("shared_client.server")
Handler = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Handler:
    """Answer a ServerError raised by ``handler`` with the protocol's error body."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ServerError as error:
            return error_response(error, request.state.request_id)

    return wrapped


def _state(request: Request) -> ServerState:
    return request.app.state.server  # type: ignore[no-any-return]


def _authenticate(request: Request) -> Account:
    token = bearer_token(request.scope)
    if token is None:
        raise unauthenticated("Missing bearer token: send 'Authorization: Bearer <access_token>'.")
    state = _state(request)
    account_id = state.tokens.account_of(token)
    if account_id is None:
        raise unauthenticated("The access token is unknown or expired.")
    return state.accounts[account_id]


def _require_credits(account: Account) -> None:
    if account.remaining_credits <= 0:
        raise ServerError("insufficient_credits",
                          f"No credits left (balance {account.remaining_credits:.6f} USD).")


async def _json_body(request: Request) -> dict[str, Any]:
    return parse_json_object(await request.body())


def _token_cost(model: Model, prompt: int, completion: int) -> float:
    return (prompt * model.input_price_per_1k_tokens + completion * model.output_price_per_1k_tokens) / 1000


# --- auth -----------------------------------------------------------------------------------


@endpoint
async def auth_token(request: Request) -> Response:
    body = Fields(await _json_body(request))
    api_key = body.string("api_key", required=True)
    account = _state(request).account_for_key(api_key or "")
    if account is None:
        raise ServerError("authentication_error", "The API key is not valid.")
    return JSONResponse(_state(request).tokens.issue(account.id))


@endpoint
async def auth_refresh(request: Request) -> Response:
    body = Fields(await _json_body(request))
    token = body.string("refresh_token", required=True)
    account_id = _state(request).tokens.redeem_refresh(token or "")
    if account_id is None:
        raise ServerError("authentication_error", "The refresh token is unknown, used or expired.")
    return JSONResponse(_state(request).tokens.issue(account_id))


# --- generation -----------------------------------------------------------------------------


def _check_budget(model: Model, max_tokens: int | None, prompt_tokens: int) -> None:
    if max_tokens is not None and max_tokens > model.max_output_tokens:
        raise invalid(f"max_tokens is {max_tokens}, above the {model.max_output_tokens} "
                      f"output tokens of {model.full_id}.")
    if prompt_tokens > model.context_window:
        raise invalid(f"The prompt has {prompt_tokens} tokens, above the {model.context_window}-token "
                      f"context window of {model.full_id}.")


def _openai_usage(generation: Generation) -> dict[str, int]:
    return {"prompt_tokens": generation.prompt_tokens,
            "completion_tokens": generation.completion_tokens,
            "total_tokens": generation.prompt_tokens + generation.completion_tokens}


def _generation_events(request: Request, account: Account, model: Model, generation: Generation,
                       started: float, chat: bool) -> Callable[[], Iterator[dict[str, Any]]]:
    head = {"request_id": request.state.request_id, "provider": model.provider, "model": model.id}

    def events() -> Iterator[dict[str, Any]]:
        if chat:
            yield chat_chunk(head, {"role": "assistant"})
        for token in generation.tokens:
            yield chat_chunk(head, {"content": token}) if chat else completion_chunk(head, token)
        for delta in tool_call_deltas(generation.tool_calls):
            yield chat_chunk(head, delta)
        usage = _serve(account, model, generation, started)
        if chat:
            yield chat_chunk(head, {}, generation.finish_reason, usage)
        else:
            yield completion_chunk(head, "", generation.finish_reason, usage)

    return events


def _serve(account: Account, model: Model, generation: Generation, started: float) -> dict[str, Any]:
    """Record a served generation on the account; its wire ``usage``."""
    cost = _token_cost(model, generation.prompt_tokens, generation.completion_tokens)
    account.record(model.full_id, generation.prompt_tokens + generation.completion_tokens, cost)
    return usage_body(generation.prompt_tokens, generation.completion_tokens, cost, started)


@endpoint
async def chat_completions(request: Request) -> Response:
    started = time.perf_counter()
    account = _authenticate(request)
    chat = parse_chat(await _json_body(request))
    model = _state(request).resolve_model(chat.model, CHAT)
    _require_credits(account)
    generation = generate_chat(chat, seed=chat.model + repr(chat.messages))
    _check_budget(model, chat.max_tokens, generation.prompt_tokens)
    if chat.stream:
        return sse_response(request, "/chat/completions",
                            _generation_events(request, account, model, generation, started, True))
    usage = _serve(account, model, generation, started)
    message: dict[str, Any] = {"role": "assistant", "content": generation.text or None}
    if generation.tool_calls:
        message["tool_calls"] = generation.tool_calls
    raw = {"id": "chatcmpl-" + request.state.request_id[4:], "object": "chat.completion",
           "model": model.id, "choices": [{"index": 0, "message": message,
                                           "finish_reason": generation.finish_reason}],
           "usage": _openai_usage(generation)}
    return JSONResponse(envelope(request.state.request_id, started, model.provider, model.id,
                                 generation.text, usage, raw, finish_reason=generation.finish_reason,
                                 tool_calls=generation.tool_calls or None))


@endpoint
async def completions(request: Request) -> Response:
    started = time.perf_counter()
    account = _authenticate(request)
    completion = parse_completion(await _json_body(request))
    model = _state(request).resolve_model(completion.model, COMPLETION)
    _require_credits(account)
    generation = generate_completion(completion)
    _check_budget(model, completion.max_tokens, generation.prompt_tokens)
    if completion.stream:
        return sse_response(request, "/completions",
                            _generation_events(request, account, model, generation, started, False))
    usage = _serve(account, model, generation, started)
    raw = {"id": "cmpl-" + request.state.request_id[4:], "object": "text_completion",
           "model": model.id, "choices": [{"index": 0, "text": generation.text,
                                           "finish_reason": generation.finish_reason}],
           "usage": _openai_usage(generation)}
    return JSONResponse(envelope(request.state.request_id, started, model.provider, model.id,
                                 generation.text, usage, raw, finish_reason=generation.finish_reason,
                                 tool_calls=None))


@endpoint
async def embeddings(request: Request) -> Response:
    started = time.perf_counter()
    account = _authenticate(request)
    wanted = parse_embeddings(await _json_body(request))
    model = _state(request).resolve_model(wanted.model, EMBEDDING)
    _require_credits(account)
    dimensions = wanted.dimensions or model.dimensions or 256
    if wanted.dimensions is not None:
        if "dimensions" not in model.capabilities:
            raise invalid(f"Model {model.full_id} does not take 'dimensions'.")
        if model.dimensions is not None and wanted.dimensions > model.dimensions:
            raise invalid(f"dimensions is {wanted.dimensions}, above the {model.dimensions} "
                          f"of {model.full_id}.")
    counts = [count_tokens(text) for text in wanted.texts]
    too_long = next((i for i, n in enumerate(counts) if n > model.context_window), None)
    if too_long is not None:
        raise invalid(f"text[{too_long}] has {counts[too_long]} tokens, above the "
                      f"{model.context_window}-token limit of {model.full_id}.")
    encode = to_base64 if wanted.base64 else (lambda vector: vector)
    data = [{"index": i, "embedding": encode(embed(text, dimensions))}
            for i, text in enumerate(wanted.texts)]
    if _state(request).faults.take("/embeddings", request.method, ("reorder",)):
        data.reverse()
    tokens = sum(counts)
    cost = tokens * model.input_price_per_1k_tokens / 1000
    account.record(model.full_id, tokens, cost)
    raw = {"object": "list", "model": model.id,
           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    return JSONResponse(envelope(request.state.request_id, started, model.provider, model.id, data,
                                 usage_body(tokens, 0, cost, started), raw, dimensions=dimensions))


@endpoint
async def images(request: Request) -> Response:
    started = time.perf_counter()
    account = _authenticate(request)
    wanted = parse_image(await _json_body(request))
    model = _state(request).resolve_model(wanted.model, IMAGE)
    _require_credits(account)
    tokens = count_tokens(wanted.prompt)
    if tokens > model.context_window:
        raise invalid(f"The prompt has {tokens} tokens, above the {model.context_window} of {model.full_id}.")
    items = []
    base = str(request.base_url).rstrip("/")
    for index in range(wanted.n):
        png = render_png(wanted.prompt, wanted.width, wanted.height, index)
        if wanted.b64:
            item = {"b64_json": base64.b64encode(png).decode("ascii")}
        else:
            image_id = secrets.token_urlsafe(16)
            _state(request).images.put(image_id, png)
            item = {"url": f"{base}/v1/files/images/{image_id}.png"}
        items.append({**item, "revised_prompt": wanted.prompt})
    cost = wanted.n * (model.price_per_image or 0.0)
    account.record(model.full_id, tokens, cost)
    raw = {"created": int(time.time()), "data": [{"revised_prompt": wanted.prompt}] * wanted.n}
    return JSONResponse(envelope(request.state.request_id, started, model.provider, model.id, items,
                                 usage_body(tokens, 0, cost, started), raw))


async def image_file(request: Request) -> Response:
    png = _state(request).images.get(request.path_params["image_id"])
    if png is None:
        return error_response(ServerError("not_found", "No such image (images are kept for a while)."),
                              request.state.request_id)
    return Response(png, media_type="image/png")


# --- catalogue and account ------------------------------------------------------------------


@endpoint
async def providers(request: Request) -> Response:
    _authenticate(request)
    catalogue = _state(request).catalogue
    return JSONResponse([{"id": p.id, "name": p.name, "description": p.description,
                          "capabilities": catalogue.provider_capabilities(p.id)}
                         for p in catalogue.providers.values()])


@endpoint
async def models(request: Request) -> Response:
    _authenticate(request)
    catalogue = _state(request).catalogue
    wanted = request.query_params.get("provider")
    if wanted is not None and wanted not in catalogue.providers:
        raise ServerError("provider_not_found", f"Provider '{wanted}' is not available.")
    chosen = [p for p in catalogue.providers.values() if wanted in (None, p.id)]
    return JSONResponse([{"id": p.id, "name": p.name,
                          "models": [m.to_wire() for m in catalogue.models_of(p.id)]} for p in chosen])


@endpoint
async def model_info(request: Request) -> Response:
    _authenticate(request)
    catalogue = _state(request).catalogue
    provider, name = request.path_params["provider"], request.path_params["model"]
    if provider not in catalogue.providers:
        raise ServerError("provider_not_found", f"Provider '{provider}' is not available.")
    found = catalogue.models.get(f"{provider}/{name}")
    if found is None:
        raise ServerError("model_not_found", f"Model '{name}' of provider '{provider}' is not available.")
    return JSONResponse(found.to_wire())


@endpoint
async def user_usage(request: Request) -> Response:
    return JSONResponse(_authenticate(request).usage_body())


@endpoint
async def user_info(request: Request) -> Response:
    return JSONResponse(_authenticate(request).info_body())


# --- test switches --------------------------------------------------------------------------


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@endpoint
async def faults(request: Request) -> Response:
    board = _state(request).faults
    if request.method == "POST":
        spec = parse_json_object(await request.body())
        for item in spec.get("faults", [spec]) if isinstance(spec.get("faults"), list) else [spec]:
            board.add(fault_from_json(item))
    elif request.method == "DELETE":
        board.clear()
    return JSONResponse({"pending": [vars(f) for f in board.pending()]})


async def journal(request: Request) -> Response:
    entries = _state(request).journal.entries
    if request.method == "DELETE":
        entries.clear()
    return JSONResponse(list(entries))


@endpoint
async def expire_tokens(request: Request) -> Response:
    raw = await request.body()
    body = Fields(parse_json_object(raw) if raw.strip() else {})
    _state(request).tokens.expire_all(include_refresh=body.boolean("refresh"))
    return JSONResponse({"expired": True})


# --- wiring ---------------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    error_type = {404: "not_found", 405: "method_not_allowed"}.get(status, "internal_error")
    detail = f"No route for {request.method} {request.url.path}." if status == 404 else str(
        getattr(exc, "detail", "Request failed."))
    response = error_response(ServerError(error_type, detail, status=status), request.state.request_id)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


ROUTES = [
    Route("/v1/auth/token", auth_token, methods=["POST"]),
    Route("/v1/auth/refresh", auth_refresh, methods=["POST"]),
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/completions", completions, methods=["POST"]),
    Route("/v1/embeddings", embeddings, methods=["POST"]),
    Route("/v1/images/generations", images, methods=["POST"]),
    Route("/v1/files/images/{image_id}.png", image_file, methods=["GET"]),
    Route("/v1/providers", providers, methods=["GET"]),
    Route("/v1/models", models, methods=["GET"]),
    Route("/v1/models/{provider}/{model:path}", model_info, methods=["GET"]),
    Route("/v1/user/usage", user_usage, methods=["GET"]),
    Route("/v1/user/info", user_info, methods=["GET"]),
    Route("/_local/health", health, methods=["GET"]),
    Route("/_local/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/_local/expire-tokens", expire_tokens, methods=["POST"]),
    Route("/_local/journal", journal, methods=["GET", "DELETE"]),
]


def create_app(config: ServerConfig | None = None) -> ProtocolMiddleware:
    """The ASGI application of one local server with its own state."""
    state = ServerState(config or ServerConfig())
    app = Starlette(routes=ROUTES, exception_handlers={HTTPException: _http_error})
    app.state.server = state
    return ProtocolMiddleware(app, state)
