"""Minimal mode: the server answers only what a minimal real server sends (PROTOCOL.md's second acceptance rule)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from indox_server import LocalServer
from shared_client._sse import SSEDecoder

from .helpers import CHAT_MODEL, EMBED_MODEL, IMAGE_MODEL, RawAPI, chunks

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather at a location.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
STREAM_BODY = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Owls hunt at night. When do owls hunt?"}]}


@pytest.fixture
def api(server: LocalServer) -> Iterator[RawAPI]:
    logged_in = RawAPI(server)
    with server.minimal_mode():
        yield logged_in
    assert not server.is_minimal()


def test_switching_at_run_time(server: LocalServer) -> None:
    api = RawAPI(server)
    assert not server.is_minimal() and "usage" in api.chat("Hi").json()
    server.set_minimal(True)
    assert server.is_minimal() and "usage" not in api.chat("Hi").json()
    server.set_minimal(False)
    assert "usage" in api.chat("Hi").json()


def test_started_minimal() -> None:
    with LocalServer(minimal=True) as minimal:
        assert minimal.is_minimal() and set(RawAPI(minimal).chat("Hi").json()) == {
            "success", "message", "data", "raw_response"}


def test_chat_answer_is_bare(api: RawAPI) -> None:
    response = api.chat("Owls hunt at night. When do owls hunt?")
    body = response.json()
    assert set(body) == {"success", "message", "data", "raw_response"}
    assert body["data"] == "Owls hunt at night."
    assert "usage" not in body["raw_response"] and "model" not in body["raw_response"]
    assert "X-Request-ID" not in response.headers


def test_tool_calls_and_finish_reason_only_in_raw_response(api: RawAPI) -> None:
    body = api.chat("What is the weather in Rome?", additional_params={"tools": [WEATHER_TOOL]}).json()
    assert "tool_calls" not in body and "finish_reason" not in body
    (choice,) = body["raw_response"]["choices"]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"location": "Rome"}


def test_completion_embeddings_and_images_are_bare(api: RawAPI) -> None:
    completion = api.post("/completions", {"model": CHAT_MODEL, "prompt": "Hi"}).json()
    assert set(completion) == {"success", "message", "data", "raw_response"}
    vectors = api.post("/embeddings", {"model": EMBED_MODEL, "text": ["a b", "c d", "e f"],
                                       "additional_params": {"dimensions": 8}}).json()
    assert set(vectors) == {"success", "message", "data", "raw_response"}
    assert [set(item) for item in vectors["data"]] == [{"embedding"}] * 3
    images = api.post("/images/generations", {"model": IMAGE_MODEL, "prompt": "x", "size": "8x8", "n": 2}).json()
    assert set(images) == {"success", "message", "data", "raw_response"} and len(images["data"]) == 2


def test_embedding_items_come_in_input_order(server: LocalServer, api: RawAPI) -> None:
    texts = ["alpha", "beta", "gamma"]
    server.set_minimal(False)
    full = api.post("/embeddings", {"model": EMBED_MODEL, "text": texts}).json()
    server.set_minimal(True)
    bare = api.post("/embeddings", {"model": EMBED_MODEL, "text": texts}).json()
    assert [item["embedding"] for item in bare["data"]] == [
        item["embedding"] for item in sorted(full["data"], key=lambda item: item["index"])]


def test_provider_objects_carry_the_id_only_as_name(api: RawAPI) -> None:
    providers = api.get("/models").json()
    assert all(set(p) == {"name", "description", "models"} for p in providers)
    assert "openai" in {p["name"] for p in providers}
    assert api.get("/models/openai").json()["name"] == "openai"


def test_errors_are_fastapi_shaped(api: RawAPI) -> None:
    missing = api.chat("Hi", model="openai/no-such-model")
    assert missing.status_code == 404 and missing.json() == {"detail": "Model 'openai/no-such-model' was not found."}
    assert "X-Request-ID" not in missing.headers
    invalid = api.chat("Hi", temperature=5)
    assert invalid.status_code == 400 and set(invalid.json()) == {"detail"}
    unprocessable = api.post("/chat/completions", {"model": CHAT_MODEL, "messages": [{"role": "user"}]})
    assert unprocessable.status_code == 422
    (item,) = unprocessable.json()["detail"]
    assert item["loc"] == ["body", "messages", 0, "content"] and item["type"] == "missing" and item["msg"]
    typed = api.chat("Hi", temperature="hot").json()["detail"][0]
    assert typed["loc"] == ["body", "temperature"] and typed["type"] == "float_type"
    logged_out = requests.get(f"{api.base}/user", timeout=10)
    assert logged_out.status_code == 401 and set(logged_out.json()) == {"detail"}
    assert logged_out.headers["WWW-Authenticate"] == "Bearer"


def test_faults_answer_bare_errors(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("respond", path="/chat/completions", status=503)
    response = api.chat("Hi")
    assert response.status_code == 503 and response.json() == {"detail": "Injected fault: status 503."}


def test_stream_chunks_are_bare_and_the_last_has_no_usage(api: RawAPI) -> None:
    parts = chunks(api.events("/chat/completions", STREAM_BODY)[0])
    assert all(set(part) == {"choices"} for part in parts)
    assert "".join(p["choices"][0]["delta"].get("content", "") for p in parts) == "Owls hunt at night."
    assert parts[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    text = chunks(api.events("/completions", {"model": CHAT_MODEL, "prompt": "Hi"})[0])
    assert all(set(part) == {"choices"} for part in text)


def test_stream_errors_are_plain_strings(server: LocalServer, api: RawAPI) -> None:
    server.inject_fault("stream_error", path="/chat/completions", after_events=2, status=401,
                        error_type="authentication_error")
    events, _ = api.events("/chat/completions", STREAM_BODY)
    assert json.loads(events[-1].data) == {"error": "Status 401: Injected fault: the stream failed."}


def test_the_full_stream_by_contrast(server: LocalServer, api: RawAPI) -> None:
    server.set_minimal(False)
    with api.session.post(api.base + "/chat/completions", json={**STREAM_BODY, "stream": True}, stream=True,
                          timeout=10) as response:
        request_id = response.headers["X-Request-ID"]
        decoder = SSEDecoder()
        events = [e for piece in response.iter_content(chunk_size=None) for e in decoder.feed(piece)]
    parts = chunks(events)
    assert all((p["request_id"], p["provider"], p["model"]) == (request_id, "openai", "gpt-4o-mini") for p in parts)
    assert parts[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert set(parts[-1]["usage"]) == {"tokens_prompt", "tokens_completion", "tokens_total", "cost", "latency",
                                       "timestamp"}


def test_the_openai_facade_and_the_switches_keep_their_shapes(server: LocalServer, api: RawAPI) -> None:
    facade = requests.post(f"{server.root_url}/openai/v1/chat/completions", timeout=10,
                           headers={"Authorization": f"Bearer {server.api_key}"},
                           json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
    assert facade.json()["object"] == "chat.completion" and "usage" in facade.json()
    refused = requests.get(f"{server.root_url}/_local/journal", timeout=10)
    assert set(refused.json()) == {"detail", "type", "request_id"}
