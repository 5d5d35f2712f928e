"""The real service's own client, ``indoxrouter`` 0.1.39, unmodified, against the local server.

PROTOCOL.md's first acceptance rule: given only ``base_url`` (the server's
origin) and the key, it works for chat, completion (plain and streamed),
embeddings, images, models, model info and usage. It logs in in its
constructor, keeps the cookie and also sends the body's token as a bearer.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from typing import Any

import indoxrouter
import pytest
from indoxrouter.exceptions import AuthenticationError, ModelNotFoundError, ProviderNotFoundError

from indox_server import LocalServer

QUESTION = [{"role": "user", "content": "Owls hunt at night. Larks sing at dawn. When do owls hunt?"}]


@pytest.fixture
def official(server: LocalServer) -> Iterator[indoxrouter.Client]:
    client = indoxrouter.Client(api_key=server.api_key, base_url=server.base_url)
    yield client
    client.close()


def paths(server: LocalServer) -> list[str]:
    return [entry["path"] for entry in server.journal()]


def test_the_constructor_logs_in_with_x_api_key_and_keeps_the_cookie(server: LocalServer) -> None:
    server.clear_journal()
    with indoxrouter.Client(api_key=server.api_key, base_url=server.base_url) as client:
        assert paths(server) == ["/api/v1/auth/api-key"]
        assert client.session.cookies["access_token"] == client.access_token


def test_chat(official: indoxrouter.Client) -> None:
    answer = official.chat(QUESTION, model="openai/gpt-4o-mini", temperature=0.2, max_tokens=50, top_p=0.9)
    assert answer["data"] == "Owls hunt at night." and answer["success"] is True
    assert answer["finish_reason"] == "stop" and answer["usage"]["tokens_total"] > 0


def test_chat_streamed(official: indoxrouter.Client) -> None:
    chunks: list[dict[str, Any]] = list(official.chat(QUESTION, model="anthropic/claude-3-haiku", stream=True))
    assert all(isinstance(chunk, dict) for chunk in chunks)
    assert "".join(chunk.get("data", "") for chunk in chunks) == "Owls hunt at night."
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["usage"]["tokens_completion"] > 0
    assert {chunk["model"] for chunk in chunks} == {"claude-3-haiku"}


def test_completion_plain_and_streamed(official: indoxrouter.Client) -> None:
    prompt = "Rain falls in spring. Snow falls in winter. When does snow fall?"
    plain = official.completion(prompt, model="openai/gpt-3.5-turbo-instruct")
    assert plain["data"] == "Snow falls in winter."
    streamed = official.completion(prompt, model="openai/gpt-3.5-turbo-instruct", stream=True)
    assert "".join(chunk["data"] for chunk in streamed) == plain["data"]


def test_embeddings(official: indoxrouter.Client) -> None:
    answer = official.embeddings(["cats sleep", "dogs bark"], model="openai/text-embedding-3-small", dimensions=64)
    assert answer["dimensions"] == 64
    assert [item["index"] for item in answer["data"]] == [0, 1]
    assert all(len(item["embedding"]) == 64 for item in answer["data"])
    single = official.embeddings("just one")
    assert len(single["data"]) == 1 and len(single["data"][0]["embedding"]) == 1536


def test_images_two_base64_pngs(official: indoxrouter.Client) -> None:
    answer = official.images("a red lighthouse", model="openai/dall-e-3", size="64x32", n=2,
                             response_format="b64_json", quality="standard", style="vivid")
    pngs = [base64.b64decode(item["b64_json"]) for item in answer["data"]]
    assert len(pngs) == 2 and pngs[0] != pngs[1]
    for png in pngs:
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (64, 32)


def test_models_and_model_info(official: indoxrouter.Client) -> None:
    providers = official.models()
    assert {p["name"] for p in providers} >= {"openai", "anthropic", "huggingface"}
    openai = official.models("openai")
    assert openai["name"] == "openai" and "gpt-4o-mini" in {m["id"] for m in openai["models"]}
    info = official.get_model_info("openai", "gpt-4o-mini")
    assert info["id"] == "gpt-4o-mini" and info["type"] == "chat"
    assert official.get_model_info("huggingface", "meta-llama/Llama-3.1-8B-Instruct")["provider"] == "huggingface"


def test_usage_counts_what_it_was_served(official: indoxrouter.Client) -> None:
    before = official.get_usage()
    official.chat(QUESTION)
    after = official.get_usage()
    assert after["total_requests"] == before["total_requests"] + 1
    assert after["by_model"]["openai/gpt-4o-mini"]["requests"] >= 1


def test_it_logs_in_again_after_its_session_ends(official: indoxrouter.Client, server: LocalServer) -> None:
    official.get_usage()
    server.expire_tokens()
    server.clear_journal()
    assert official.get_usage()["total_requests"] >= 0
    assert paths(server) == ["/api/v1/user/usage", "/api/v1/auth/api-key", "/api/v1/user/usage"]
    assert official.chat(QUESTION)["data"] == "Owls hunt at night."


def test_unknown_model_and_provider_raise_its_own_exceptions(official: indoxrouter.Client) -> None:
    with pytest.raises(ModelNotFoundError, match="gpt-9"):
        official.chat(QUESTION, model="openai/gpt-9")
    with pytest.raises(ModelNotFoundError):
        official.get_model_info("openai", "gpt-9")
    with pytest.raises(ProviderNotFoundError):
        official.models("nobody")


def test_a_refused_key_is_its_authentication_error(server: LocalServer) -> None:
    server.clear_journal()
    with pytest.raises(AuthenticationError, match="not valid"):
        indoxrouter.Client(api_key="wrong", base_url=server.base_url)
    assert paths(server) == ["/api/v1/auth/api-key", "/api/v1/auth/token", "/api/v1/auth/token"]


def test_it_falls_back_to_the_form_login(server: LocalServer) -> None:
    server.inject_fault("respond", path="/auth/api-key", status=404)
    server.clear_journal()
    with indoxrouter.Client(api_key=server.api_key, base_url=server.base_url) as client:
        assert paths(server) == ["/api/v1/auth/api-key", "/api/v1/auth/token"]
        assert client.chat(QUESTION)["data"] == "Owls hunt at night."


def test_it_works_against_the_minimal_server_too(official: indoxrouter.Client, server: LocalServer) -> None:
    with server.minimal_mode():
        assert official.chat(QUESTION)["data"] == "Owls hunt at night."
        assert "".join(c.get("data", "") for c in official.chat(QUESTION, stream=True)) == "Owls hunt at night."
        assert len(official.embeddings(["a", "b"])["data"]) == 2
        with pytest.raises(ModelNotFoundError):
            official.chat(QUESTION, model="openai/gpt-9")
