"""The OpenAI-compatible facade under /openai/v1, in OpenAI's own wire shapes."""

from __future__ import annotations

import base64
import json
from array import array

import pytest
import requests

from indox_server import LocalServer
from shared_client._sse import SSEDecoder

QUESTION = "Owls hunt at night. Larks sing at dawn. When do owls hunt?"


@pytest.fixture
def facade(server: LocalServer) -> tuple[str, dict[str, str]]:
    return server.root_url + "/openai/v1", {"Authorization": f"Bearer {server.api_key}"}


def test_chat_completion_shape(facade: tuple[str, dict[str, str]]) -> None:
    base, headers = facade
    body = requests.post(f"{base}/chat/completions", headers=headers, timeout=10, json={
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": QUESTION}], "max_completion_tokens": 50,
        "top_p": 0.5}).json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-4o-mini"
    (choice,) = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": "Owls hunt at night.", "refusal": None}
    assert choice["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]


def test_chat_stream_with_usage_chunk(facade: tuple[str, dict[str, str]]) -> None:
    base, headers = facade
    with requests.post(f"{base}/chat/completions", headers=headers, stream=True, timeout=10, json={
            "model": "anthropic/claude-3-haiku", "messages": [{"role": "user", "content": QUESTION}],
            "stream": True, "stream_options": {"include_usage": True}}) as response:
        decoder, events = SSEDecoder(), []
        for chunk in response.iter_content(chunk_size=None):
            events += decoder.feed(chunk)
    assert events[-1].data == "[DONE]"
    chunks = [json.loads(e.data) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Owls hunt at night."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 5


def test_tool_calls_in_openai_form(facade: tuple[str, dict[str, str]]) -> None:
    base, headers = facade
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
    body = requests.post(f"{base}/chat/completions", headers=headers, timeout=10, json={
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Weather in Rome?"}],
        "tools": [tool]}).json()
    (call,) = body["choices"][0]["message"]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"location": "Rome"}


def test_completions(facade: tuple[str, dict[str, str]]) -> None:
    base, headers = facade
    body = requests.post(f"{base}/completions", headers=headers, timeout=10,
                         json={"model": "gpt-3.5-turbo-instruct", "prompt": QUESTION}).json()
    assert body["object"] == "text_completion" and body["choices"][0]["text"] == "Owls hunt at night."


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_embeddings_both_encodings_and_token_input(facade: tuple[str, dict[str, str]], encoding: str) -> None:
    base, headers = facade
    body = requests.post(f"{base}/embeddings", headers=headers, timeout=10, json={
        "model": "text-embedding-3-small", "input": ["owls hunt", "larks sing"], "encoding_format": encoding,
        "dimensions": 8}).json()
    assert body["object"] == "list" and [d["index"] for d in body["data"]] == [0, 1]
    vector = body["data"][0]["embedding"]
    decoded = array("f", base64.b64decode(vector)).tolist() if encoding == "base64" else vector
    assert len(decoded) == 8 and body["usage"]["prompt_tokens"] > 0
    tokens = requests.post(f"{base}/embeddings", headers=headers, timeout=10, json={  # as tiktoken users send
        "model": "text-embedding-3-small", "input": [[12, 34], [56]], "encoding_format": encoding}).json()
    assert len(tokens["data"]) == 2


def test_images_and_models(facade: tuple[str, dict[str, str]]) -> None:
    base, headers = facade
    image = requests.post(f"{base}/images/generations", headers=headers, timeout=10, json={
        "model": "dall-e-3", "prompt": "a fox", "size": "16x16", "response_format": "b64_json"}).json()
    assert base64.b64decode(image["data"][0]["b64_json"])[:4] == b"\x89PNG"
    models = requests.get(f"{base}/models", headers=headers, timeout=10).json()
    assert "openai/gpt-4o-mini" in {m["id"] for m in models["data"]}


def test_errors_in_openai_form(facade: tuple[str, dict[str, str]], server: LocalServer) -> None:
    base, headers = facade
    missing = requests.post(f"{base}/chat/completions", headers=headers, timeout=10, json={
        "model": "gpt-9", "messages": [{"role": "user", "content": "x"}]})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    refused = requests.get(f"{base}/models", headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
    tokens = requests.post(f"{server.api_root}/auth/api-key", headers={"X-API-Key": server.api_key},
                           timeout=10).json()
    with_token = requests.get(f"{base}/models", timeout=10,
                              headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert with_token.status_code == 200
