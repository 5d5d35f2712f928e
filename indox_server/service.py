"""What the native API and the OpenAI facade both do: authenticate, bill, run the local models.

The handlers in ``app.py`` and ``openai_facade.py`` only parse their own wire
format and shape their own answers around these.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from .accounts import Account
from .catalogue import EMBEDDING, IMAGE, Model
from .engine.chat import Generation
from .engine.embedding import embed, to_base64
from .engine.image import render_png
from .engine.text import count_tokens
from .errors import ServerError, invalid, not_logged_in, unauthenticated
from .middleware import API_ROOT, bearer_token, credentials
from .parsing import EmbeddingRequest, ImageRequest, parse_json_object
from .state import ServerState


def state_of(request: Request) -> ServerState:
    return request.app.state.server  # type: ignore[no-any-return]


def authenticate(request: Request, *, api_key_ok: bool = False) -> Account:
    """The account of the request's session: its bearer token or its ``access_token`` cookie.

    Either one that is a live session will do. With ``api_key_ok`` (the OpenAI
    facade) the bearer may also be the API key itself.
    """
    state = state_of(request)
    if api_key_ok:
        token = bearer_token(request.scope)
        owner = state.account_for_key(token) if token else None
        if owner is not None:
            return owner
    presented = credentials(request.scope)
    if not presented:
        raise not_logged_in("Not logged in: log in at /api/v1/auth/api-key, then send the access_token "
                            "cookie or 'Authorization: Bearer <access_token>'.")
    refusal: ServerError | None = None
    for token in presented:
        try:
            account = state.accounts.get(state.sessions.account_of(token))
        except ServerError as error:
            refusal = refusal or error
            continue
        if account is not None:
            return account
        refusal = refusal or unauthenticated("The session belongs to no account of this server.")
    assert refusal is not None
    raise refusal


def require_credits(account: Account) -> None:
    if account.remaining_credits <= 0:
        raise ServerError("insufficient_credits",
                          f"No credits left (balance {account.remaining_credits:.6f} USD).")


async def json_body(request: Request) -> dict[str, Any]:
    return parse_json_object(await request.body())


def check_budget(model: Model, max_tokens: int | None, prompt_tokens: int) -> None:
    if max_tokens is not None and max_tokens > model.max_output_tokens:
        raise invalid(f"max_tokens is {max_tokens}, above the {model.max_output_tokens} "
                      f"output tokens of {model.full_id}.")
    if prompt_tokens > model.context_window:
        raise invalid(f"The prompt has {prompt_tokens} tokens, above the {model.context_window}-token "
                      f"context window of {model.full_id}.")


def bill_generation(account: Account, model: Model, generation: Generation) -> float:
    """Record a served generation on the account; its cost."""
    cost = (generation.prompt_tokens * model.input_price_per_1k_tokens
            + generation.completion_tokens * model.output_price_per_1k_tokens) / 1000
    account.record(model.full_id, generation.prompt_tokens + generation.completion_tokens, cost)
    return cost


def openai_usage(generation: Generation) -> dict[str, int]:
    return {"prompt_tokens": generation.prompt_tokens, "completion_tokens": generation.completion_tokens,
            "total_tokens": generation.prompt_tokens + generation.completion_tokens}


@dataclass
class Embedded:
    model: Model
    items: list[dict[str, Any]]  # {"index": i, "embedding": floats or base64}, in answer order
    dimensions: int
    tokens: int
    cost: float


def run_embeddings(request: Request, account: Account, wanted: EmbeddingRequest) -> Embedded:
    model = state_of(request).resolve_model(wanted.model, EMBEDDING)
    require_credits(account)
    dimensions = wanted.dimensions or model.dimensions or 256
    if wanted.dimensions is not None:
        if "dimensions" not in model.capabilities:
            raise invalid(f"Model {model.full_id} does not take 'dimensions'.")
        if model.dimensions is not None and wanted.dimensions > model.dimensions:
            raise invalid(f"dimensions is {wanted.dimensions}, above the {model.dimensions} of {model.full_id}.")
    counts = [count_tokens(text) for text in wanted.texts]
    too_long = next((i for i, n in enumerate(counts) if n > model.context_window), None)
    if too_long is not None:
        raise invalid(f"text[{too_long}] has {counts[too_long]} tokens, above the "
                      f"{model.context_window}-token limit of {model.full_id}.")
    encode = to_base64 if wanted.base64 else (lambda vector: vector)
    items = [{"index": i, "embedding": encode(embed(text, dimensions))} for i, text in enumerate(wanted.texts)]
    if state_of(request).faults.take("/embeddings", request.method, ("reorder",)):
        items.reverse()
    tokens = sum(counts)
    cost = tokens * model.input_price_per_1k_tokens / 1000
    account.record(model.full_id, tokens, cost)
    return Embedded(model, items, dimensions, tokens, cost)


@dataclass
class Drawn:
    model: Model
    items: list[dict[str, Any]]  # {"url" or "b64_json", "revised_prompt"}
    tokens: int
    cost: float


def run_images(request: Request, account: Account, wanted: ImageRequest) -> Drawn:
    state = state_of(request)
    model = state.resolve_model(wanted.model, IMAGE)
    require_credits(account)
    tokens = count_tokens(wanted.prompt)
    if tokens > model.context_window:
        raise invalid(f"The prompt has {tokens} tokens, above the {model.context_window} of {model.full_id}.")
    items = []
    origin = f"{request.url.scheme}://{request.url.netloc}"
    for index in range(wanted.n):
        png = render_png(wanted.prompt, wanted.width, wanted.height, index)
        if wanted.b64:
            item = {"b64_json": base64.b64encode(png).decode("ascii")}
        else:
            image_id = secrets.token_urlsafe(16)
            state.images.put(image_id, png)
            item = {"url": f"{origin}{API_ROOT}/files/images/{image_id}.png"}
        items.append({**item, "revised_prompt": wanted.prompt})
    cost = wanted.n * (model.price_per_image or 0.0)
    account.record(model.full_id, tokens, cost)
    return Drawn(model, items, tokens, cost)
