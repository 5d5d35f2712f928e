"""Every documented method and parameter, against the real local server."""

from __future__ import annotations

import base64
import inspect
import json

import pytest

import indoxRouter
import shared_client
from indox_server import LocalServer
from shared_client import (
    ChatMessage,
    ChatResponse,
    Client,
    CompletionResponse,
    EmbeddingResponse,
    ImageResponse,
    IndoxRouter,
    ModelInfo,
    Usage,
)

CONTEXT = "Tea comes from China. Coffee comes from Ethiopia. Where does coffee come from?"


def test_documented_signatures_and_defaults() -> None:
    params = inspect.signature(Client).parameters
    assert params["api_key"].default is None
    assert params["base_url"].default == "https://api.indoxrouter.com/v1"
    assert params["timeout"].default == 15 and params["auto_refresh"].default is True
    assert params["max_retries"].default == 2
    for method in ("chat", "completion"):
        p = inspect.signature(getattr(Client, method)).parameters
        assert (p["temperature"].default, p["max_tokens"].default, p["stream"].default,
                p["return_generator"].default) == (0.7, None, False, False)
    assert inspect.signature(Client.image).parameters["size"].default == "512x512"
    assert IndoxRouter is Client and indoxRouter.Client is Client
    assert indoxRouter.exceptions is shared_client.exceptions


def test_chat(client: Client) -> None:
    answer = client.chat([{"role": "user", "content": CONTEXT}], model="openai/gpt-4o-mini")
    assert isinstance(answer, ChatResponse)
    assert answer.data == "Coffee comes from Ethiopia." and answer.finish_reason == "stop"
    assert (answer.model, answer.provider, answer.success) == ("gpt-4o-mini", "openai", True)
    assert isinstance(answer.usage, Usage) and answer.usage.tokens_completion == 5  # Coffee comes from Ethiopia .
    assert answer.usage.tokens_total == answer.usage.tokens_prompt + 5 and answer.usage.cost > 0
    assert answer.request_id and answer.request_id.startswith("req_")
    assert answer.raw_response and answer.raw_response["object"] == "chat.completion"
    assert answer.tool_calls is None


def test_chat_parameters_travel(client: Client, server: LocalServer) -> None:
    server.clear_journal()
    messages = [ChatMessage(role="system", content="Be terse."),
                {"role": "user", "content": CONTEXT, "name": "ann"}]
    answer = client.chat(messages, model="anthropic/claude-3-haiku", temperature=0.2, max_tokens=2,
                         top_p=0.9, stop=["zzz"], seed=7)
    assert answer.data == "Coffee comes" and answer.finish_reason == "length"
    sent = json.loads(server.journal()[-1]["body"])
    assert sent == {"model": "anthropic/claude-3-haiku", "messages": [
        {"role": "system", "content": "Be terse."}, {"role": "user", "content": CONTEXT, "name": "ann"}],
        "temperature": 0.2, "max_tokens": 2, "stream": False, "byok_api_key": None,
        "additional_params": {"top_p": 0.9, "stop": ["zzz"], "seed": 7}}


def test_chat_tool_calls_and_tool_results(client: Client) -> None:
    tools = [{"type": "function", "function": {"name": "add", "description": "Add two integers.",
              "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                             "required": ["a", "b"]}}}]
    asked = [{"role": "user", "content": "Please add 2 and 40."}]
    called = client.chat(asked, model="openai/gpt-4o-mini", tools=tools)
    assert called.finish_reason == "tool_calls" and called.data == ""
    (call,) = called.tool_calls or []
    assert json.loads(call["function"]["arguments"]) == {"a": 2, "b": 40}
    follow = [*asked, {"role": "assistant", "content": None, "tool_calls": called.tool_calls},
              {"role": "tool", "tool_call_id": call["id"], "content": "42"}]
    assert client.chat(follow, model="openai/gpt-4o-mini", tools=tools).data == "add returned: 42."


def test_completion(client: Client) -> None:
    done = client.completion(CONTEXT, model="openai/gpt-3.5-turbo-instruct", max_tokens=100)
    assert isinstance(done, CompletionResponse) and done.data == "Coffee comes from Ethiopia."
    assert done.provider == "openai" and done.model == "gpt-3.5-turbo-instruct"


def test_embeddings_single_and_list(client: Client) -> None:
    one = client.embeddings("a single text", model="openai/text-embedding-3-small")
    assert isinstance(one, EmbeddingResponse) and len(one.data) == 1 and len(one.data[0]) == 1536
    assert one.dimensions == 1536 and all(isinstance(x, float) for x in one.data[0][:5])
    many = client.embeddings(["cat", "dog", "cat"], model="openai/text-embedding-3-small", dimensions=32)
    assert many.dimensions == 32 and many.data[0] == many.data[2] != many.data[1]


def test_embeddings_same_vectors_in_float_and_base64(client: Client, server: LocalServer) -> None:
    server.clear_journal()
    packed = client.embeddings(["alpha beta"], model="local/hash-embedding-256")
    assert json.loads(server.journal()[-1]["body"])["additional_params"]["encoding_format"] == "base64"
    plain = client.embeddings(["alpha beta"], model="local/hash-embedding-256", encoding_format="float")
    assert packed.data[0] == pytest.approx(plain.data[0], abs=1e-7)


def test_embeddings_in_input_order_whatever_the_server_order(client: Client, server: LocalServer) -> None:
    texts = ["one", "two", "three"]
    expected = client.embeddings(texts, model="local/hash-embedding-256").data
    server.inject_fault("reorder", path="/embeddings")
    assert client.embeddings(texts, model="local/hash-embedding-256").data == expected


def test_embeddings_above_2048_texts_split_and_merge(client: Client, server: LocalServer) -> None:
    texts = [f"text number {i}" for i in range(2500)]
    server.clear_journal()
    merged = client.embeddings(texts, model="local/hash-embedding-256")
    sizes = [len(json.loads(e["body"])["text"]) for e in server.journal() if e["path"] == "/api/v1/embeddings"]
    assert sizes == [2048, 452]
    assert len(merged.data) == 2500
    assert merged.data[2049] == client.embeddings(texts[2049], model="local/hash-embedding-256").data[0]
    single = [client.embeddings(texts[:2048], model="local/hash-embedding-256"),
              client.embeddings(texts[2048:], model="local/hash-embedding-256")]
    assert merged.usage.tokens_total == sum(s.usage.tokens_total for s in single)


def test_image_url_and_b64(client: Client) -> None:
    urls = client.image("a red boat", model="openai/dall-e-2", size="64x64", n=2)
    assert isinstance(urls, ImageResponse) and len(urls.data) == 2
    assert all(u.startswith("http://127.0.0.1") for u in urls.data)
    assert urls.revised_prompts == ["a red boat", "a red boat"]
    b64 = client.image("a red boat", model="openai/dall-e-3", response_format="b64_json")
    assert base64.b64decode(b64.data[0])[:8] == b"\x89PNG\r\n\x1a\n"


def test_catalogue(client: Client) -> None:
    providers = client.providers()
    assert any(p["id"] == "openai" for p in providers)
    everything = client.models()
    assert {"openai", "anthropic"} <= set(everything)
    assert all(isinstance(m, dict) and "id" in m for m in everything["openai"])
    assert list(client.models(provider="anthropic")) == ["anthropic"]
    info = client.model_info("openai", "gpt-4o-mini")
    assert isinstance(info, ModelInfo) and info.name == "gpt-4o-mini" and info.provider == "openai"
    assert info.raw_info["name"] == "GPT-4o mini" and f"{info.provider}/{info.name}" == "openai/gpt-4o-mini"
    assert info.context_window == 128000 and "tools" in info.capabilities and info.type == "chat"
    slashed = client.model_info("huggingface", "meta-llama/Llama-3.1-8B-Instruct")
    assert slashed.name == "meta-llama/Llama-3.1-8B-Instruct"


def test_usage_and_user_info(client: Client) -> None:
    before = client.get_usage()["total_requests"]
    client.chat([{"role": "user", "content": "Hi"}], model="openai/gpt-4o-mini")
    usage = client.get_usage()
    assert usage["total_requests"] == before + 1 and "openai/gpt-4o-mini" in usage["by_model"]
    assert set(client.get_user_info()) >= {"id", "email", "name", "plan", "credits"}


def test_env_fallbacks(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDOX_ROUTER_API_KEY", server.api_key)
    monkeypatch.setenv("INDOX_ROUTER_BASE_URL", server.base_url + "/")
    with Client() as from_env:
        assert from_env.base_url == server.base_url
        assert from_env.get_user_info()["id"]


def test_context_manager_and_close(server: LocalServer) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        client.providers()
    assert client.closed
    with pytest.raises(shared_client.IndoxRouterError, match="closed"):
        client.providers()


def test_importing_the_client_pulls_in_no_framework_or_server() -> None:
    import subprocess
    import sys

    code = ("import sys, shared_client, indoxRouter, shared_client.integration; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'starlette', 'uvicorn', 'langchain_core', "
            "'llama_index', 'langchain_indox', 'llamaindex_indox'}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
    # the sync client alone leaves httpx unloaded; AsyncClient loads it when asked for
    code = ("import sys, shared_client; before = 'httpx' in sys.modules; "
            "from shared_client import AsyncClient; print(before, 'httpx' in sys.modules, AsyncClient.__name__)")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.split() == ["False", "True", "AsyncClient"]


def test_image_parameters_travel_top_level(client: Client, server: LocalServer) -> None:
    server.clear_journal()
    images = client.image("a red boat", model="openai/dall-e-3", n=2, response_format="b64_json",
                          style="vivid", seed=None, guidance_scale=3, byok_api_key="sk-own-key")
    assert len(images.data) == 2
    sent = json.loads(server.journal()[-1]["body"])
    assert {k: v for k, v in sent.items() if k != "byok_api_key"} == {
        "model": "openai/dall-e-3", "prompt": "a red boat", "size": "512x512", "n": 2,
        "response_format": "b64_json", "style": "vivid", "additional_params": {"guidance_scale": 3}}
    assert sent["byok_api_key"] == LocalServer.redacted("sk-own-key")  # sent, and kept out of the journal
