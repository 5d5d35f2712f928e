"""Turning request bodies into typed values, with the protocol's errors.

A body that is not JSON, or JSON nested deeper than ``MAX_JSON_DEPTH``, is a
400 ``invalid_parameters``; a field that is
missing or of the wrong type is a 422 ``validation_error`` naming the field;
a well-typed value the server cannot honour (a model without ``provider/``,
a temperature above 2) is a 400 ``invalid_parameters`` naming the value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ServerError, invalid

ROLES = ("system", "user", "assistant", "tool")


def _schema_error(detail: str) -> ServerError:
    return ServerError("validation_error", detail)


# Deeper than any real request (OpenAI tool schemas nest a dozen levels); well below
# the interpreter's recursion limit, so nothing that walks a body can overflow.
MAX_JSON_DEPTH = 64


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (0 for a scalar), without recursing."""
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        level.extend((child, depth + 1) for child in children)
    return deepest


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body; every malformed body is a 4xx, never a 500."""
    if not raw.strip():
        raise invalid("Request body is empty; a JSON object is required.")
    too_deep = invalid(f"Request body nests arrays or objects deeper than {MAX_JSON_DEPTH} levels.")
    try:
        body = json.loads(raw)
    except RecursionError:  # the decoder itself ran out of stack (thousands of levels)
        raise too_deep from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"Request body is not valid JSON: {exc}") from None
    if json_depth(body) > MAX_JSON_DEPTH:
        raise too_deep
    if not isinstance(body, dict):
        raise _schema_error("Request body must be a JSON object.")
    return body


class Fields:
    """Typed access to one JSON object's fields; errors name the field path."""

    def __init__(self, body: dict[str, Any], path: str = "") -> None:
        self.body = body
        self.path = path

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, required: bool) -> Any:
        value = self.body.get(key)
        if value is None and required:
            raise _schema_error(f"Field '{self._name(key)}' is required.")
        return value

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, str):
            raise _schema_error(f"Field '{self._name(key)}' must be a string.")
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise _schema_error(f"Field '{self._name(key)}' must be a boolean.")
        return value

    def integer(self, key: str) -> int | None:
        value = self._get(key, False)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _schema_error(f"Field '{self._name(key)}' must be an integer.")
        return value

    def number(self, key: str) -> float | None:
        value = self._get(key, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _schema_error(f"Field '{self._name(key)}' must be a number.")
        if not math.isfinite(value):
            raise _schema_error(f"Field '{self._name(key)}' must be a finite number.")
        return float(value)

    def obj(self, key: str) -> dict[str, Any]:
        value = self._get(key, False)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise _schema_error(f"Field '{self._name(key)}' must be an object.")
        return value

    def array(self, key: str, *, required: bool = False) -> list[Any] | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, list):
            raise _schema_error(f"Field '{self._name(key)}' must be an array.")
        return value


def split_model(model: str) -> tuple[str, str]:
    provider, sep, name = model.partition("/")
    if not sep or not provider or not name:
        raise invalid(f"Model '{model}' is not of the form 'provider/model'.")
    return provider, name


@dataclass
class GenerationParams:
    """What chat and completion requests share."""

    model: str
    temperature: float
    max_tokens: int | None
    stream: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stop(self) -> list[str]:
        stop = self.extra.get("stop")
        if stop is None:
            return []
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise invalid("additional_params.stop must be a string or a list of strings.")
        if len(stop) > 4:
            raise invalid("additional_params.stop takes at most 4 sequences.")
        return [s for s in stop if s]


def _generation_params(fields: Fields) -> GenerationParams:
    model = fields.string("model", required=True)
    assert model is not None
    temperature = fields.number("temperature")
    if temperature is not None and not 0.0 <= temperature <= 2.0:
        raise invalid(f"temperature must be between 0 and 2, got {temperature}.")
    max_tokens = fields.integer("max_tokens")
    if max_tokens is not None and max_tokens < 1:
        raise invalid(f"max_tokens must be at least 1, got {max_tokens}.")
    fields.string("byok_api_key")  # the caller's own provider key: accepted, never used, never echoed
    return GenerationParams(
        model=model,
        temperature=0.7 if temperature is None else temperature,
        max_tokens=max_tokens,
        stream=fields.boolean("stream"),
        extra=fields.obj("additional_params"),
    )


@dataclass
class ChatRequest(GenerationParams):
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CompletionRequest(GenerationParams):
    prompt: str = ""


def _check_content(content: Any, where: str, nullable: bool) -> None:
    if content is None:
        if not nullable:
            raise _schema_error(f"Field '{where}.content' is required.")
        return
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _schema_error(f"Field '{where}.content' must be a string or a list of parts.")
    for j, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise _schema_error(f"Field '{where}.content[{j}]' must be an object with a 'type'.")
        kind = part["type"]
        if kind == "text" and not isinstance(part.get("text"), str):
            raise _schema_error(f"Field '{where}.content[{j}].text' must be a string.")
        if kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise _schema_error(f"Field '{where}.content[{j}].image_url.url' must be a string.")


def _check_tool_calls(calls: Any, where: str) -> None:
    if not isinstance(calls, list):
        raise _schema_error(f"Field '{where}.tool_calls' must be an array.")
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise _schema_error(f"Field '{where}.tool_calls[{j}].function.name' must be a string.")
        if not isinstance(fn.get("arguments", ""), str):
            raise _schema_error(
                f"Field '{where}.tool_calls[{j}].function.arguments' must be a JSON string.")


def parse_chat(body: dict[str, Any]) -> ChatRequest:
    fields = Fields(body)
    params = _generation_params(fields)
    messages = fields.array("messages", required=True)
    assert messages is not None
    if not messages:
        raise invalid("messages must hold at least one message.")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _schema_error(f"Field '{where}' must be an object.")
        item = Fields(message, where)
        role = item.string("role", required=True)
        if role not in ROLES:
            raise _schema_error(f"Field '{where}.role' must be one of {', '.join(ROLES)}; got '{role}'.")
        item.string("name")
        has_calls = role == "assistant" and message.get("tool_calls") is not None
        if has_calls:
            _check_tool_calls(message["tool_calls"], where)
        _check_content(message.get("content"), where, nullable=has_calls)
        if role == "tool":
            item.string("tool_call_id", required=True)
    return ChatRequest(**vars(params), messages=messages)


def parse_completion(body: dict[str, Any]) -> CompletionRequest:
    fields = Fields(body)
    params = _generation_params(fields)
    prompt = fields.string("prompt", required=True)
    assert prompt is not None
    return CompletionRequest(**vars(params), prompt=prompt)


MAX_EMBEDDING_INPUTS = 2048


@dataclass
class EmbeddingRequest:
    model: str
    texts: list[str]
    dimensions: int | None
    base64: bool


def parse_embeddings(body: dict[str, Any]) -> EmbeddingRequest:
    fields = Fields(body)
    model = fields.string("model", required=True)
    assert model is not None
    text = body.get("text")
    if isinstance(text, str):
        text = [text]
    if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
        raise _schema_error("Field 'text' must be a list of strings.")
    if not text:
        raise invalid("text must hold at least one string.")
    fields.string("byok_api_key")
    if len(text) > MAX_EMBEDDING_INPUTS:
        raise invalid(f"text holds {len(text)} items; at most {MAX_EMBEDDING_INPUTS} are accepted per request.")
    extra = Fields(fields.obj("additional_params"), "additional_params")
    dimensions = extra.integer("dimensions")
    if dimensions is not None and dimensions < 1:
        raise invalid(f"dimensions must be at least 1, got {dimensions}.")
    encoding = extra.string("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise invalid(f"encoding_format must be 'float' or 'base64', got '{encoding}'.")
    return EmbeddingRequest(model, text, dimensions, encoding == "base64")


MAX_IMAGE_SIDE = 2048
MAX_IMAGES = 10


@dataclass
class ImageRequest:
    model: str
    prompt: str
    width: int
    height: int
    n: int
    b64: bool


def parse_size(size: str) -> tuple[int, int]:
    width, sep, height = size.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise invalid(f"size must be 'WIDTHxHEIGHT' (e.g. '1024x1024'), got '{size}'.")
    w, h = int(width), int(height)
    if not (1 <= w <= MAX_IMAGE_SIDE and 1 <= h <= MAX_IMAGE_SIDE):
        raise invalid(f"size sides must be between 1 and {MAX_IMAGE_SIDE} pixels, got '{size}'.")
    return w, h


IMAGE_FIELDS = ("size", "n", "quality", "style", "response_format", "user", "seed", "negative_prompt")


def parse_image(body: dict[str, Any]) -> ImageRequest:
    """An image request: its parameters are top-level fields (docs/protocol.md section 6)."""
    fields = Fields(body)
    model = fields.string("model", required=True)
    prompt = fields.string("prompt", required=True)
    assert model is not None and prompt is not None
    if not prompt.strip():
        raise invalid("prompt must not be empty.")
    fields.string("byok_api_key")
    fields.obj("additional_params")
    for name in ("quality", "style", "user", "negative_prompt"):
        fields.string(name)
    fields.integer("seed")
    width, height = parse_size(fields.string("size") or "1024x1024")
    n = fields.integer("n")
    n = 1 if n is None else n
    if not 1 <= n <= MAX_IMAGES:
        raise invalid(f"n must be between 1 and {MAX_IMAGES}, got {n}.")
    response_format = fields.string("response_format") or "url"
    if response_format not in ("url", "b64_json"):
        raise invalid(f"response_format must be 'url' or 'b64_json', got '{response_format}'.")
    return ImageRequest(model, prompt, width, height, n, response_format == "b64_json")
