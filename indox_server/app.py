"""The local server's routes: docs/protocol.md version 2 under ``/api/v1``, test switches under ``/_local``.

Version 1's paths (``/v1/...``) are gone: they answer the 404 of any unknown path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from . import openai_facade
from .accounts import Account
from .catalogue import CHAT, COMPLETION, Model, Provider
from .engine.chat import Generation, generate_chat, generate_completion
from .errors import ServerError, invalid
from .faults import fault_from_json
from .middleware import API_ROOT, SESSION_COOKIE, SWITCHES, ProtocolMiddleware
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
from .state import ServerConfig, ServerState, model_not_found
from .streams import chat_chunk, completion_chunk, sse_response, tool_call_deltas

endpoint = answering_errors(error_response)  # the protocol's error body


# --- auth -----------------------------------------------------------------------------------


def _logged_in(request: Request, account: Account) -> Response:
    """A login's answer: the session in the body and in the ``access_token`` cookie."""
    session = state_of(request).sessions.issue(account.id)
    cookie = (f"{SESSION_COOKIE}={session.access_token}; HttpOnly; Max-Age={session.expires_in}; Path=/; "
              f"SameSite=Lax{'; Secure' if request.url.scheme == 'https' else ''}")
    return JSONResponse(session.body(), headers={"Set-Cookie": cookie})


@endpoint
async def login_api_key(request: Request) -> Response:
    """``POST /auth/api-key`` with the header ``X-API-Key`` and no body."""
    key = request.headers.get("x-api-key", "").strip()
    if not key:
        raise ServerError("authentication_error", "Missing the header 'X-API-Key: <your API key>'.")
    account = state_of(request).account_for_key(key)
    if account is None:
        raise ServerError("authentication_error", "The API key is not valid.")
    return _logged_in(request, account)


@endpoint
async def login_form(request: Request) -> Response:
    """``POST /auth/token``, the older form login: the key in ``password`` (and usually ``username``)."""
    try:
        form = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise invalid("The form body is not UTF-8.") from None
    password = (form.get("password") or [""])[0]
    if not password:
        raise ServerError("validation_error", "Field 'password' is required: send the form body "
                                              "username=<API key>&password=<API key>.")
    account = state_of(request).account_for_key(password)
    if account is None:
        raise ServerError("authentication_error", "The API key is not valid.")
    return _logged_in(request, account)


# --- generation -----------------------------------------------------------------------------


def _generation_events(request: Request, account: Account, model: Model, generation: Generation,
                       started: float, chat: bool) -> Callable[[], Iterator[dict[str, Any]]]:
    head = None if request.state.minimal else {
        "request_id": request.state.request_id, "provider": model.provider, "model": model.id}

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
    return JSONResponse(envelope(request, started, model.provider, model.id,
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
    return JSONResponse(envelope(request, started, model.provider, model.id,
                                 generation.text, usage, raw, finish_reason=generation.finish_reason,
                                 tool_calls=None))


@endpoint
async def embeddings(request: Request) -> Response:
    started = time.perf_counter()
    account = authenticate(request)
    done = run_embeddings(request, account, parse_embeddings(await json_body(request)))
    raw = {"object": "list", "model": done.model.id,
           "usage": {"prompt_tokens": done.tokens, "total_tokens": done.tokens}}
    # Minimal: no ``index``, the items in the order the server has them (input order, unless reordered)
    items = [{"embedding": item["embedding"]} for item in done.items] if request.state.minimal else done.items
    return JSONResponse(envelope(request, started, done.model.provider, done.model.id,
                                 items, usage_body(done.tokens, 0, done.cost, started), raw,
                                 dimensions=done.dimensions))


@endpoint
async def images(request: Request) -> Response:
    started = time.perf_counter()
    account = authenticate(request)
    done = run_images(request, account, parse_image(await json_body(request)))
    raw = {"created": int(time.time()), "data": [{"revised_prompt": i["revised_prompt"]} for i in done.items]}
    return JSONResponse(envelope(request, started, done.model.provider, done.model.id,
                                 done.items, usage_body(done.tokens, 0, done.cost, started), raw))


async def image_file(request: Request) -> Response:
    png = state_of(request).images.get(request.path_params["image_id"])
    if png is None:
        return error_response(ServerError("not_found", "No such image (images are kept for a while)."), request)
    return Response(png, media_type="image/png")


# --- catalogue and account ------------------------------------------------------------------


def _provider_body(request: Request, provider: Provider) -> dict[str, Any]:
    catalogue = state_of(request).catalogue
    models = [m.to_wire() for m in catalogue.models_of(provider.id)]
    if request.state.minimal:  # a minimal server: the id only as ``name``, as the official client reads it
        return {"name": provider.id, "description": provider.description, "models": models}
    return {"name": provider.id, "id": provider.id, "display_name": provider.name,
            "description": provider.description, "models": models}


@endpoint
async def models(request: Request) -> Response:
    authenticate(request)
    providers = state_of(request).catalogue.providers.values()
    return JSONResponse([_provider_body(request, p) for p in providers])


@endpoint
async def provider_models(request: Request) -> Response:
    authenticate(request)
    provider = state_of(request).provider(request.path_params["provider"])
    return JSONResponse(_provider_body(request, provider))


@endpoint
async def model_info(request: Request) -> Response:
    authenticate(request)
    state = state_of(request)
    provider = state.provider(request.path_params["provider"])
    found = state.catalogue.models.get(f"{provider.id}/{request.path_params['model']}")
    if found is None:
        raise model_not_found(f"{provider.id}/{request.path_params['model']}", state.catalogue.models)
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
    state_of(request).sessions.expire_all()
    return JSONResponse({"expired": True})


@endpoint
async def minimal_mode(request: Request) -> Response:
    state = state_of(request)
    if request.method == "POST":
        state.minimal = Fields(parse_json_object(await request.body())).boolean("minimal", default=True)
    return JSONResponse({"minimal": state.minimal})


# --- wiring ---------------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    error_type = {404: "not_found", 405: "method_not_allowed"}.get(status, "internal_error")
    detail = f"No route for {request.method} {request.url.path}." if status == 404 else str(
        getattr(exc, "detail", "Request failed."))
    response = error_response(ServerError(error_type, detail, status=status), request)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


API_ROUTES = [
    Route("/auth/api-key", login_api_key, methods=["POST"]),
    Route("/auth/token", login_form, methods=["POST"]),
    Route("/chat/completions", chat_completions, methods=["POST"]),
    Route("/completions", completions, methods=["POST"]),
    Route("/embeddings", embeddings, methods=["POST"]),
    Route("/images/generations", images, methods=["POST"]),
    Route("/files/images/{image_id}.png", image_file, methods=["GET"]),
    Route("/models", models, methods=["GET"]),
    Route("/models/{provider}", provider_models, methods=["GET"]),
    Route("/models/{provider}/{model:path}", model_info, methods=["GET"]),
    Route("/user/usage", user_usage, methods=["GET"]),
    Route("/user", user_info, methods=["GET"]),
]
SWITCH_ROUTES = [  # the middleware lets only loopback callers with a valid X-API-Key reach these
    Route("/health", health, methods=["GET"]),
    Route("/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/expire-tokens", expire_tokens, methods=["POST"]),
    Route("/journal", journal, methods=["GET", "DELETE"]),
    Route("/minimal", minimal_mode, methods=["GET", "POST"]),
]
ROUTES: list[BaseRoute] = [Mount(API_ROOT, routes=API_ROUTES), Mount(SWITCHES, routes=SWITCH_ROUTES)]


def create_app(config: ServerConfig | None = None) -> ProtocolMiddleware:
    """The ASGI application of one local server with its own state."""
    state = ServerState(config or ServerConfig())
    app = Starlette(routes=[*ROUTES, *openai_facade.ROUTES], exception_handlers={HTTPException: _http_error})
    app.router.redirect_slashes = False  # the middleware already reads /x/ as /x
    app.state.server = state
    return ProtocolMiddleware(app, state)
