"""Bad arguments raise InvalidParametersError before anything is sent.

The clients here point at a port where nothing listens: had anything been
sent, the error would be a NetworkError instead.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared_client import ChatMessage, Client, InvalidParametersError

OK = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def offline(dead_url: str) -> Client:
    return Client(api_key="k", base_url=dead_url, max_retries=0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"model": "gpt-4o-mini"}, "provider/model"),
    ({"model": "/gpt"}, "provider"),
    ({"model": "openai/"}, "provider"),
    ({"model": None}, "provider/model"),
    ({"messages": []}, "empty"),
    ({"messages": "Hi"}, "list"),
    ({"messages": [{"content": "Hi"}]}, "role"),
    ({"messages": [{"role": "user"}]}, "no content"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "role"),
    ({"messages": [{"role": "user", "content": 5}]}, "content"),
    ({"messages": [{"role": "tool", "content": "3"}]}, "tool_call_id"),
    ({"messages": ["Hi"]}, "messages\\[0\\]"),
    ({"temperature": 3}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": 1.5}, "max_tokens"),
    ({"extra": object()}, "JSON"),
    ({"extra": float("nan")}, "JSON"),
])
def test_bad_chat_arguments(offline: Client, kwargs: dict[str, Any], match: str) -> None:
    call: dict[str, Any] = {"messages": OK, "model": "openai/gpt-4o-mini", **kwargs}
    with pytest.raises(InvalidParametersError, match=match):
        offline.chat(**call)


def test_assistant_with_tool_calls_may_have_no_content(offline: Client) -> None:
    from shared_client import NetworkError

    message = ChatMessage(role="assistant", tool_calls=[{"id": "c", "type": "function",
                                                         "function": {"name": "f", "arguments": "{}"}}])
    with pytest.raises(NetworkError):  # valid: it got as far as the network
        offline.chat([*OK, message, {"role": "tool", "tool_call_id": "c", "content": "1"}],
                     model="openai/gpt-4o-mini")


@pytest.mark.parametrize("text", [5, [1, 2], ["ok", None], [], None, b"bytes"])
def test_bad_embedding_text(offline: Client, text: Any) -> None:
    with pytest.raises(InvalidParametersError, match="text"):
        offline.embeddings(text, model="openai/text-embedding-3-small")


@pytest.mark.parametrize("size", ["big", "1024", "1024x", "0x10", "10x-1", 512, "1024X1024"])
def test_bad_image_size(offline: Client, size: Any) -> None:
    with pytest.raises(InvalidParametersError, match="size"):
        offline.image("a cat", model="openai/dall-e-3", size=size)


@pytest.mark.parametrize(("call", "match"), [
    (lambda c: c.completion(5, model="openai/gpt-4o-mini"), "prompt"),
    (lambda c: c.completion("", model="openai/gpt-4o-mini"), "prompt"),
    (lambda c: c.image("  ", model="openai/dall-e-3"), "prompt"),
    (lambda c: c.model_info("open/ai", "x"), "provider"),
    (lambda c: c.model_info("openai", ""), "model"),
    (lambda c: c.models(provider="a/b"), "provider"),
])
def test_other_bad_arguments(offline: Client, call: Any, match: str) -> None:
    with pytest.raises(InvalidParametersError, match=match):
        call(offline)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"base_url": "ftp://x/v1"}, "http"), ({"base_url": "https://u:p@x/v1"}, "credentials"),
    ({"timeout": 0}, "timeout"), ({"timeout": "15"}, "timeout"), ({"max_retries": 1.5}, "max_retries"),
])
def test_bad_construction(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParametersError, match=match):
        Client(api_key="k", **kwargs)
