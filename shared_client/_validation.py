"""Checking arguments before anything is sent, so mistakes fail fast and name themselves."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .exceptions import InvalidParametersError
from .models import ChatMessage

ROLES = ("system", "user", "assistant", "tool")
_SIZE_RE = re.compile(r"^[1-9]\d*x[1-9]\d*$")


def check_model(model: Any) -> str:
    if not isinstance(model, str) or "/" not in model:
        raise InvalidParametersError(
            f"model must be a 'provider/model' string such as 'openai/gpt-4o-mini'; got {model!r}.")
    provider, _, name = model.partition("/")
    if not provider.strip() or not name.strip() or provider != provider.strip():
        raise InvalidParametersError(f"model {model!r} needs both a provider and a model name.")
    return model


def check_messages(messages: Any) -> list[dict[str, Any]]:
    """The messages as wire dicts; every problem names the message it is in."""
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise InvalidParametersError("messages must be a list of messages "
                                     "(dicts with 'role' and 'content', or ChatMessage objects).")
    if not messages:
        raise InvalidParametersError("messages is empty; send at least one message.")
    wire = []
    for i, message in enumerate(messages):
        if isinstance(message, ChatMessage):
            item = message.to_wire()
        elif isinstance(message, Mapping):
            item = dict(message)
        else:
            raise InvalidParametersError(f"messages[{i}] is a {type(message).__name__}, "
                                         "not a dict or ChatMessage.")
        role = item.get("role")
        if role not in ROLES:
            raise InvalidParametersError(f"messages[{i}] has role {role!r}; it must be one of "
                                         f"{', '.join(ROLES)}.")
        content = item.get("content")
        calls = item.get("tool_calls")
        if content is None and not (role == "assistant" and calls):
            raise InvalidParametersError(f"messages[{i}] ({role}) has no content.")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidParametersError(f"messages[{i}].content must be a string or a list of parts; "
                                         f"got {type(content).__name__}.")
        if isinstance(content, list) and not all(isinstance(p, Mapping) and "type" in p for p in content):
            raise InvalidParametersError(f"messages[{i}].content parts must be dicts with a 'type'.")
        if role == "tool" and not isinstance(item.get("tool_call_id"), str):
            raise InvalidParametersError(f"messages[{i}] is a tool message without a 'tool_call_id'.")
        wire.append(item)
    return wire


def check_byok(byok_api_key: Any) -> str | None:
    """The caller's own provider key, or None; a secret, so the message never shows it."""
    if byok_api_key is None:
        return None
    if hasattr(byok_api_key, "get_secret_value"):
        byok_api_key = byok_api_key.get_secret_value()
    if not isinstance(byok_api_key, str) or not byok_api_key.strip():
        raise InvalidParametersError("byok_api_key must be a non-empty string (your own provider key) or None.")
    return byok_api_key


def check_provider(provider: Any) -> str:
    if not isinstance(provider, str) or not provider.strip() or "/" in provider:
        raise InvalidParametersError(f"provider must be a provider id such as 'openai'; got {provider!r}.")
    return provider


def check_generation(temperature: Any, max_tokens: Any) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not math.isfinite(temperature) or not 0 <= temperature <= 2:
        raise InvalidParametersError(f"temperature must be a number from 0 to 2; got {temperature!r}.")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        raise InvalidParametersError(f"max_tokens must be a positive integer or None; got {max_tokens!r}.")


def check_prompt(prompt: Any, what: str = "prompt") -> str:
    if not isinstance(prompt, str):
        raise InvalidParametersError(f"{what} must be a string; got {type(prompt).__name__}.")
    if not prompt.strip():
        raise InvalidParametersError(f"{what} is empty.")
    return prompt


def check_texts(text: Any) -> list[str]:
    if isinstance(text, str):
        return [text]
    if isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
        if not text:
            raise InvalidParametersError("text is an empty list; give at least one string to embed.")
        return list(text)
    raise InvalidParametersError("text must be a string or a list of strings; "
                                 f"got {type(text).__name__}.")


def check_size(size: Any) -> str:
    if not isinstance(size, str) or not _SIZE_RE.match(size):
        raise InvalidParametersError(f"size must be 'WIDTHxHEIGHT' such as '1024x1024'; got {size!r}.")
    return size


def encode_body(body: dict[str, Any]) -> bytes:
    """The JSON request body; extra parameters that JSON cannot carry fail here, unsent."""
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidParametersError(f"The request cannot be sent as JSON: {exc}.") from None
