"""Reading the server's success bodies into typed models.

Whatever arrives, the result is a model or an :class:`APIError` naming what was
wrong: never a ``KeyError``, ``TypeError`` or a pydantic error.
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
    except (ValueError, UnicodeDecodeError):
        preview = raw[:80].decode("utf-8", "replace")
        raise not_understood(action, f"the body is not JSON (starts with {preview!r})", request_id) from None


def expect(value: Any, kind: type | tuple[type, ...], what: str, action: str, request_id: str | None) -> Any:
    if not isinstance(value, kind):
        raise not_understood(action, f"{what} is {type(value).__name__}", request_id)
    return value


def _envelope(body: Any, action: str, model: str, request_id: str | None) -> dict[str, Any]:
    """The body with defaults the protocol allows to be absent."""
    expect(body, dict, "the body", action, request_id)
    provider, _, name = model.partition("/")
    filled = {k: v for k, v in body.items() if v is not None}
    filled.setdefault("provider", provider)
    filled.setdefault("model", name)
    filled.setdefault("request_id", request_id)
    return filled


def generation_response(cls: type[ResponseT], body: Any, action: str, model: str,
                        request_id: str | None) -> ResponseT:
    filled = _envelope(body, action, model, request_id)
    if "data" not in filled and filled.get("tool_calls"):
        filled["data"] = ""
    try:
        return cls.model_validate(filled)
    except pydantic.ValidationError as exc:
        raise not_understood(action, _problem(exc), filled.get("request_id")) from None


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
    request_id = filled.get("request_id")
    items = expect(filled.get("data"), list, "data", action, request_id)
    if len(items) != expected:
        raise not_understood(action, f"{len(items)} vectors came back for {expected} texts", request_id)
    vectors: list[list[float] | None] = [None] * expected
    for position, item in enumerate(items):
        expect(item, dict, f"data[{position}]", action, request_id)
        index = item.get("index", position)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < expected \
                or vectors[index] is not None:
            raise not_understood(action, f"data[{position}].index is {index!r}: missing, repeated "
                                 "or out of range", request_id)
        vectors[index] = _vector(item.get("embedding"), f"data[{position}].embedding", action, request_id)
    lengths = {len(v) for v in vectors if v is not None}
    if len(lengths) > 1:
        raise not_understood(action, f"vectors of different lengths {sorted(lengths)}", request_id)
    dimensions = filled.get("dimensions", next(iter(lengths), 0))
    try:
        usage = Usage.model_validate(filled.get("usage"))
        head = EmbeddingResponse.model_validate({**filled, "data": [], "usage": usage,
                                                 "dimensions": dimensions})
    except pydantic.ValidationError as exc:
        raise not_understood(action, _problem(exc), request_id) from None
    return head.model_copy(update={"data": vectors})


def image_response(body: Any, action: str, model: str, request_id: str | None) -> ImageResponse:
    filled = _envelope(body, action, model, request_id)
    items = expect(filled.get("data"), list, "data", action, filled.get("request_id"))
    images, revised = [], []
    for position, item in enumerate(items):
        expect(item, dict, f"data[{position}]", action, filled.get("request_id"))
        image = item.get("url") or item.get("b64_json")
        expect(image, str, f"data[{position}] (no 'url' or 'b64_json')", action, filled.get("request_id"))
        images.append(image)
        revised.append(item.get("revised_prompt") if isinstance(item.get("revised_prompt"), str) else None)
    try:
        return ImageResponse.model_validate({**filled, "data": images, "revised_prompts": revised})
    except pydantic.ValidationError as exc:
        raise not_understood(action, _problem(exc), filled.get("request_id")) from None


def model_info(entry: Any, action: str, request_id: str | None) -> ModelInfo:
    expect(entry, dict, "the model entry", action, request_id)
    fields = {k: v for k, v in entry.items() if v is not None and k in ModelInfo.model_fields}
    fields.update(name=entry.get("id"), raw_info=entry)
    try:
        return ModelInfo.model_validate(fields)
    except pydantic.ValidationError as exc:
        raise not_understood(action, _problem(exc), request_id) from None


def stream_chunk(payload: Any, chat: bool, action: str, request_id: str | None) -> StreamChunk:
    """A chunk event's JSON as a :class:`StreamChunk` (checked by hand: it is the hot path)."""
    expect(payload, dict, "a stream chunk", action, request_id)
    choices = payload.get("choices") or [{}]
    choice = expect(choices[0] if isinstance(choices, list) else None, dict, "choices[0]", action, request_id)
    if chat:
        delta = choice.get("delta") or {}
        expect(delta, dict, "choices[0].delta", action, request_id)
        text, calls = delta.get("content") or "", delta.get("tool_calls")
    else:
        text, calls = choice.get("text") or "", None
    expect(text, str, "the chunk's text", action, request_id)
    if calls is not None:
        expect(calls, list, "the chunk's tool_calls", action, request_id)
    finish = choice.get("finish_reason")
    if finish is not None:
        expect(finish, str, "finish_reason", action, request_id)
    usage = None
    if payload.get("usage") is not None:
        try:
            usage = Usage.model_validate(payload["usage"])
        except pydantic.ValidationError as exc:
            raise not_understood(action, _problem(exc), request_id) from None
    return StreamChunk.model_construct(data=text, finish_reason=finish, usage=usage,
                                       tool_calls=calls or None, raw=payload)
