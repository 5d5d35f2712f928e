"""Reading the server's success bodies into typed models (no I/O).

Liberal in what it accepts (docs/protocol.md sections 3 to 8: absent ``usage``,
``index``, ``type``, ``provider``; tool calls only in ``raw_response``; OpenAI
usage names; bare vectors and image strings), and whatever arrives, the result
is a model or an :class:`APIError` naming what was wrong: never a ``KeyError``,
``TypeError`` or a pydantic error.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from array import array
from typing import Any, TypeVar

import pydantic

from .exceptions import APIError
from .models import ChatResponse, EmbeddingResponse, ImageResponse, ModelInfo, StreamChunk, Usage

ResponseT = TypeVar("ResponseT", bound=ChatResponse)


def _problem(exc: pydantic.ValidationError) -> str:
    shown = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:3]]
    return "; ".join(shown)


def not_understood(action: str, why: str, request_id: str | None = None) -> APIError:
    return APIError(f"The answer to {action} was not understood: {why}", request_id=request_id)


def parse_json(raw: bytes, action: str, request_id: str | None) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        preview = raw[:80].decode("utf-8", "replace")
        raise not_understood(action, f"the body is not JSON (starts with {preview!r})", request_id) from None


def expect(value: Any, kind: type | tuple[type, ...], what: str, action: str, request_id: str | None) -> Any:
    if not isinstance(value, kind):
        raise not_understood(action, f"{what} is {'absent' if value is None else type(value).__name__}",
                             request_id)
    return value


def _envelope(body: Any, action: str, model: str, request_id: str | None) -> dict[str, Any]:
    """The body with what the protocol allows to be absent filled in from the request."""
    expect(body, dict, "the body", action, request_id)
    provider, _, name = model.partition("/")
    filled = {k: v for k, v in body.items() if v is not None}
    if not isinstance(filled.get("provider"), str):
        filled["provider"] = provider
    if not isinstance(filled.get("model"), str):
        filled["model"] = name
    if not isinstance(filled.get("request_id"), str):
        filled["request_id"] = request_id
    if not isinstance(filled.get("message"), str):
        filled.pop("message", None)
    try:
        filled["usage"] = Usage.from_wire(filled.get("usage"))
    except pydantic.ValidationError as exc:
        raise not_understood(action, "usage: " + _problem(exc), filled["request_id"]) from None
    return filled


def _first_choice(raw_response: Any) -> dict[str, Any]:
    choices = raw_response.get("choices") if isinstance(raw_response, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, dict) else {}


def generation_response(cls: type[ResponseT], body: Any, action: str, model: str,
                        request_id: str | None) -> ResponseT:
    filled = _envelope(body, action, model, request_id)
    choice = _first_choice(filled.get("raw_response"))
    message: dict[str, Any] = choice["message"] if isinstance(choice.get("message"), dict) else {}
    if not filled.get("tool_calls") and message.get("tool_calls"):
        filled["tool_calls"] = message["tool_calls"]
    if "finish_reason" not in filled and isinstance(choice.get("finish_reason"), str):
        filled["finish_reason"] = choice["finish_reason"]
    if "data" not in filled:
        if "data" not in body and not filled.get("tool_calls"):
            raise not_understood(action, "it has no 'data'", filled["request_id"])
        filled["data"] = ""  # null text, or an answer that is only tool calls
    try:
        return cls.model_validate(filled)
    except pydantic.ValidationError as exc:
        raise not_understood(action, _problem(exc), filled["request_id"]) from None


def _vector(raw: Any, where: str, action: str, request_id: str | None) -> list[float]:
    if isinstance(raw, str):
        try:
            packed = array("f", base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError):
            raise not_understood(action, f"{where} is not base64 of float32 values", request_id) from None
        if sys.byteorder == "big":
            packed.byteswap()
        return packed.tolist()
    if isinstance(raw, list):
        try:
            return array("d", raw).tolist()  # checks every item is a number, at C speed
        except TypeError:
            raise not_understood(action, f"{where} holds something other than numbers", request_id) from None
    raise not_understood(action, f"{where} is {type(raw).__name__}, not a list or base64 text", request_id)


def embedding_response(body: Any, action: str, model: str, request_id: str | None,
                       expected: int) -> EmbeddingResponse:
    filled = _envelope(body, action, model, request_id)
    request_id = filled["request_id"]
    items = expect(filled.get("data"), list, "data", action, request_id)
    if len(items) != expected:
        raise not_understood(action, f"{len(items)} vectors came back for {expected} texts", request_id)
    vectors: list[list[float] | None] = [None] * expected
    for position, item in enumerate(items):
        if isinstance(item, dict):
            index, raw = item.get("index", position), item.get("embedding")
        else:  # a bare vector, in input order
            index, raw = position, item
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < expected \
                or vectors[index] is not None:
            raise not_understood(action, f"data[{position}].index is {index!r}: repeated or out of range",
                                 request_id)
        vectors[index] = _vector(raw, f"data[{position}].embedding", action, request_id)
    lengths = {len(v) for v in vectors if v is not None}
    if len(lengths) > 1:
        raise not_understood(action, f"vectors of different lengths {sorted(lengths)}", request_id)
    dimensions = filled.get("dimensions", next(iter(lengths), 0))
    try:
        head = EmbeddingResponse.model_validate({**filled, "data": [], "dimensions": dimensions})
    except pydantic.ValidationError as exc:
        raise not_understood(action, _problem(exc), request_id) from None
    return head.model_copy(update={"data": vectors})


def image_response(body: Any, action: str, model: str, request_id: str | None) -> ImageResponse:
    filled = _envelope(body, action, model, request_id)
    request_id = filled["request_id"]
    items = expect(filled.get("data"), list, "data", action, request_id)
    images: list[str] = []
    revised: list[str | None] = []
    for position, item in enumerate(items):
        if isinstance(item, str):
            images.append(item)
            revised.append(None)
            continue
        expect(item, dict, f"data[{position}]", action, request_id)
        image = item.get("url") or item.get("b64_json")
        expect(image, str, f"data[{position}] (no 'url' or 'b64_json')", action, request_id)
        images.append(image)
        revised.append(item.get("revised_prompt") if isinstance(item.get("revised_prompt"), str) else None)
    try:
        return ImageResponse.model_validate({**filled, "data": images, "revised_prompts": revised})
    except pydantic.ValidationError as exc:
        raise not_understood(action, _problem(exc), request_id) from None


def provider_id(entry: dict[str, Any]) -> Any:
    """A provider's id: ``id``, else ``name`` (docs/protocol.md section 7)."""
    return entry.get("id") if isinstance(entry.get("id"), str) and entry.get("id") else entry.get("name")


def provider_entries(body: Any, action: str, one: bool = False) -> list[dict[str, Any]]:
    """The providers of ``GET /models`` (a list), or the ``one`` of ``GET /models/{provider}``."""
    if one and isinstance(body, dict):
        body = [body]
    found: list[dict[str, Any]] = expect(body, list, "the provider list", action, None)
    for position, entry in enumerate(found):
        expect(entry, dict, f"provider entry {position}", action, None)
        expect(provider_id(entry), str, f"provider entry {position}'s id", action, None)
        expect(entry.get("models", []), list, f"provider {provider_id(entry)!r}'s models", action, None)
    return found


def models_by_provider(body: Any, action: str, one: bool = False) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = {}
    for entry in provider_entries(body, action, one):
        models = entry.get("models") or []
        result[provider_id(entry)] = [expect(m, dict, "a model entry", action, None) for m in models]
    return result


def providers(body: Any, action: str) -> list[dict[str, Any]]:
    """Each provider's object without its models, with ``id`` always set."""
    return [{**{k: v for k, v in entry.items() if k != "models"}, "id": provider_id(entry)}
            for entry in provider_entries(body, action)]


def model_info(entry: Any, action: str, provider: str) -> ModelInfo:
    expect(entry, dict, "the model entry", action, None)
    fields = {k: v for k, v in entry.items() if v is not None and k in ModelInfo.model_fields}
    fields.update(name=entry.get("id"), raw_info=entry)
    if not isinstance(fields.get("provider"), str):
        fields["provider"] = provider
    try:
        return ModelInfo.model_validate(fields)
    except pydantic.ValidationError as exc:
        raise not_understood(action, _problem(exc), None) from None


def stream_chunk(payload: Any, action: str) -> StreamChunk:
    """One chunk event's JSON (OpenAI form, or a top-level ``data`` text) as a :class:`StreamChunk`.

    Checked by hand, not by pydantic: it is the hot path.
    """
    if not isinstance(payload, dict):
        return StreamChunk.model_construct(data=json.dumps(payload), finish_reason=None, usage=None,
                                           tool_calls=None, raw={"data": payload}, provider=None, model=None,
                                           request_id=None)
    choices = payload.get("choices")
    if choices is not None:
        expect(choices, list, "choices", action, None)
    choice = choices[0] if choices else {}
    expect(choice, dict, "choices[0]", action, None)
    delta = choice.get("delta") or {}
    expect(delta, dict, "choices[0].delta", action, None)
    text = delta.get("content") or choice.get("text") or (payload.get("data") if not choices else None) or ""
    expect(text, str, "the chunk's text", action, None)
    calls = delta.get("tool_calls")
    if calls is not None:
        expect(calls, list, "the chunk's tool_calls", action, None)
    finish = choice.get("finish_reason")
    if finish is not None:
        expect(finish, str, "finish_reason", action, None)
    usage = None
    if payload.get("usage") is not None:
        try:
            usage = Usage.from_wire(payload["usage"])
        except pydantic.ValidationError as exc:
            raise not_understood(action, _problem(exc), None) from None
    return StreamChunk.model_construct(data=text, finish_reason=finish, usage=usage, tool_calls=calls or None,
                                       raw=payload, provider=_text(payload.get("provider")),
                                       model=_text(payload.get("model")), request_id=_text(payload.get("request_id")))


def raw_text_chunk(text: str) -> StreamChunk:
    """An event whose data is not JSON: its text is the delta, as the service's own client reads it."""
    return StreamChunk.model_construct(data=text, finish_reason=None, usage=None, tool_calls=None,
                                       raw={"data": text}, provider=None, model=None, request_id=None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
