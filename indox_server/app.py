"""The local server's routes: PROTOCOL.md endpoints under ``/v1``, test switches under ``/_local``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import openai_facade
from .accounts import Account
from .catalogue import CHAT, COMPLETION, Model
from .engine.chat import Generation, generate_chat, generate_completion
from .errors import ServerError
from .faults import fault_from_json
from .middleware import ProtocolMiddleware
from .parsing import (
    Fields,
    parse_chat,
    parse_completion,
    parse_embeddings,
    parse_image,
    parse_json_object,
)
from .responses import answering_errors, envelope, error_response, usage_body
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
from .state import ServerConfig, ServerState
from .streams import chat_chunk, completion_chunk, sse_response, tool_call_deltas

endpoint = answering_errors(error_response)  # the protocol's error body


# --- auth -----------------------------------------------------------------------------------


@endpoint
async def auth_token(request: Request) -> Response:
    body = Fields(await json_body(request))
    api_key = body.string("api_key", required=True)
    account = state_of(request).account_for_key(api_key or "")
    if account is None:
        raise ServerError("authentication_error", "The API key is not valid.")
    return JSONResponse(state_of(request).tokens.issue(account.id))


@endpoint
async def auth_refresh(request: Request) -> Response:
    body = Fields(await json_body(request))
    token = body.string("refresh_token", required=True)
    account_id = state_of(request).tokens.redeem_refresh(token or "")
    if account_id is None:
        raise ServerError("authentication_error", "The refresh token is unknown, used or expired.")
    return JSONResponse(state_of(request).tokens.issue(account_id))


# --- generation -----------------------------------------------------------------------------


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
    """Bill a served generation; its wire ``usage``."""
    cost = bill_generation(account, model, generation)
    return usage_body(generation.prompt_tokens, generation.completion_tokens, cost, started)


@endpoint
async def chat_completions(request: Request) -> Response:
    started = time.perf_counter()
    account = authenticate(request)
    chat = parse_chat(await json_body(request))
    model = state_of(request).resolve_model(chat.model, CHAT)
    require_credits(account)
    generation = generate_chat(chat, seed=chat.model + repr(chat.messages))
    check_budget(model, chat.max_tokens, generation.prompt_tokens)
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
           "usage": openai_usage(generation)}
    return JSONResponse(envelope(request.state.request_id, started, model.provider, model.id,
                                 generation.text, usage, raw, finish_reason=generation.finish_reason,
                                 tool_calls=generation.tool_calls or None))


@endpoint
async def completions(request: Request) -> Response:
    started = time.perf_counter()
    account = authenticate(request)
    completion = parse_completion(await json_body(request))
    model = state_of(request).resolve_model(completion.model, COMPLETION)
    require_credits(account)
    generation = generate_completion(completion)
    check_budget(model, completion.max_tokens, generation.prompt_tokens)
    if completion.stream:
        return sse_response(request, "/completions",
                            _generation_events(request, account, model, generation, started, False))
    usage = _serve(account, model, generation, started)
    raw = {"id": "cmpl-" + request.state.request_id[4:], "object": "text_completion",
           "model": model.id, "choices": [{"index": 0, "text": generation.text,
                                           "finish_reason": generation.finish_reason}],
           "usage": openai_usage(generation)}
    return JSONResponse(envelope(request.state.request_id, started, model.provider, model.id,
                                 generation.text, usage, raw, finish_reason=generation.finish_reason,
                                 tool_calls=None))


@endpoint
async def embeddings(request: Request) -> Response:
    started = time.perf_counter()
    account = authenticate(request)
    done = run_embeddings(request, account, parse_embeddings(await json_body(request)))
    raw = {"object": "list", "model": done.model.id,
           "usage": {"prompt_tokens": done.tokens, "total_tokens": done.tokens}}
    return JSONResponse(envelope(request.state.request_id, started, done.model.provider, done.model.id,
                                 done.items, usage_body(done.tokens, 0, done.cost, started), raw,
                                 dimensions=done.dimensions))


@endpoint
async def images(request: Request) -> Response:
    started = time.perf_counter()
    account = authenticate(request)
    done = run_images(request, account, parse_image(await json_body(request)))
    raw = {"created": int(time.time()), "data": [{"revised_prompt": i["revised_prompt"]} for i in done.items]}
    return JSONResponse(envelope(request.state.request_id, started, done.model.provider, done.model.id,
                                 done.items, usage_body(done.tokens, 0, done.cost, started), raw))


async def image_file(request: Request) -> Response:
    png = state_of(request).images.get(request.path_params["image_id"])
    if png is None:
        return error_response(ServerError("not_found", "No such image (images are kept for a while)."),
                              request.state.request_id)
    return Response(png, media_type="image/png")


# --- catalogue and account ------------------------------------------------------------------


@endpoint
async def providers(request: Request) -> Response:
    authenticate(request)
    catalogue = state_of(request).catalogue
    return JSONResponse([{"id": p.id, "name": p.name, "description": p.description,
                          "capabilities": catalogue.provider_capabilities(p.id)}
                         for p in catalogue.providers.values()])


@endpoint
async def models(request: Request) -> Response:
    authenticate(request)
    catalogue = state_of(request).catalogue
    wanted = request.query_params.get("provider")
    if wanted is not None and wanted not in catalogue.providers:
        raise ServerError("provider_not_found", f"Provider '{wanted}' is not available.")
    chosen = [p for p in catalogue.providers.values() if wanted in (None, p.id)]
    return JSONResponse([{"id": p.id, "name": p.name,
                          "models": [m.to_wire() for m in catalogue.models_of(p.id)]} for p in chosen])


@endpoint
async def model_info(request: Request) -> Response:
    authenticate(request)
    catalogue = state_of(request).catalogue
    provider, name = request.path_params["provider"], request.path_params["model"]
    if provider not in catalogue.providers:
        raise ServerError("provider_not_found", f"Provider '{provider}' is not available.")
    found = catalogue.models.get(f"{provider}/{name}")
    if found is None:
        raise ServerError("model_not_found", f"Model '{name}' of provider '{provider}' is not available.")
    return JSONResponse(found.to_wire())


@endpoint
async def user_usage(request: Request) -> Response:
    return JSONResponse(authenticate(request).usage_body())


@endpoint
async def user_info(request: Request) -> Response:
    return JSONResponse(authenticate(request).info_body())


# --- test switches --------------------------------------------------------------------------


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@endpoint
async def faults(request: Request) -> Response:
    board = state_of(request).faults
    if request.method == "POST":
        spec = parse_json_object(await request.body())
        for item in spec.get("faults", [spec]) if isinstance(spec.get("faults"), list) else [spec]:
            board.add(fault_from_json(item))
    elif request.method == "DELETE":
        board.clear()
    return JSONResponse({"pending": [vars(f) for f in board.pending()]})


async def journal(request: Request) -> Response:
    journal = state_of(request).journal
    if request.method == "DELETE":
        journal.clear()
    return JSONResponse(journal.entries())


@endpoint
async def expire_tokens(request: Request) -> Response:
    raw = await request.body()
    body = Fields(parse_json_object(raw) if raw.strip() else {})
    state_of(request).tokens.expire_all(include_refresh=body.boolean("refresh"))
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
    app = Starlette(routes=ROUTES + openai_facade.ROUTES, exception_handlers={HTTPException: _http_error})
    app.state.server = state
    return ProtocolMiddleware(app, state)
