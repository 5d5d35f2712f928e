"""The client against a server that sends only what the service's own client reads
(the local server's minimal mode): every "a client accepts" rule of docs/protocol.md sections 3 to 9."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from indox_server import LocalServer
from shared_client import (
    Client,
    ModelNotAvailableError,
    ModelNotFoundError,
    ProviderError,
    ProviderNotFoundError,
    Usage,
    ValidationError,
)

MODEL = "openai/gpt-4o-mini"
ASK = [{"role": "user", "content": "Owls hunt at night. When do owls hunt?"}]
ADD = [{"type": "function", "function": {"name": "add", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}]


@pytest.fixture
def minimal(server: LocalServer, client: Client) -> Iterator[Client]:
    with server.minimal_mode():
        yield client


def test_chat_without_usage_provider_or_model(minimal: Client) -> None:
    answer = minimal.chat(ASK, model=MODEL)
    assert answer.data == "Owls hunt at night."
    assert answer.usage == Usage() and (answer.provider, answer.model) == ("openai", "gpt-4o-mini")
    assert answer.finish_reason == "stop"  # found in raw_response.choices[0]


def test_tool_calls_only_in_raw_response(minimal: Client) -> None:
    answer = minimal.chat([{"role": "user", "content": "Please add 2 and 40."}], model=MODEL, tools=ADD)
    assert answer.finish_reason == "tool_calls" and answer.data == ""
    assert json.loads((answer.tool_calls or [])[0]["function"]["arguments"]) == {"a": 2, "b": 40}


def test_streams_without_usage_or_origin_fields(minimal: Client, server: LocalServer) -> None:
    chunks = list(minimal.chat(ASK, model=MODEL, stream=True, return_generator=True))
    assert "".join(c.data for c in chunks) == "Owls hunt at night."
    assert all(c.usage is None and c.provider is None and c.request_id is None for c in chunks)
    whole = minimal.completion("Snow falls in winter. When does snow fall?", model="anthropic/claude-3-haiku",
                               stream=True)
    assert whole.data == "Snow falls in winter." and whole.usage == Usage()


def test_a_string_error_event_becomes_the_section_9_exception(minimal: Client, server: LocalServer) -> None:
    server.inject_fault("stream_error", path="/chat/completions", after_events=1, status=502)
    with pytest.raises(ProviderError) as caught:
        list(minimal.chat(ASK, model=MODEL, stream=True, return_generator=True))
    assert caught.value.status_code == 502


def test_embeddings_without_index_usage_or_dimensions(minimal: Client, client: Client) -> None:
    texts = ["owls hunt", "larks sing", "snow falls"]
    vectors = minimal.embeddings(texts, model="openai/text-embedding-3-small")
    assert len(vectors.data) == 3 and vectors.dimensions == len(vectors.data[0])
    assert vectors.usage == Usage()


def test_images_catalogue_and_account(minimal: Client) -> None:
    images = minimal.image("a red owl", model="openai/dall-e-3", n=2, response_format="b64_json")
    assert len(images.data) == 2
    providers = minimal.providers()
    assert providers and all(p["id"] for p in providers)  # taken from "name" when "id" is absent
    assert "openai" in minimal.models() and list(minimal.models("openai")) == ["openai"]
    assert minimal.model_info("openai", "gpt-4o-mini").name == "gpt-4o-mini"
    assert isinstance(minimal.get_usage(), dict) and isinstance(minimal.get_user_info(), dict)


def test_errors_are_chosen_by_the_words_of_detail(minimal: Client) -> None:
    with pytest.raises(ModelNotFoundError) as missing_model:
        minimal.chat(ASK, model="openai/gpt-9")
    assert missing_model.value.error_type is None and "gpt-9" in str(missing_model.value)
    with pytest.raises(ProviderNotFoundError):
        minimal.chat(ASK, model="nobody/gpt-9")
    with pytest.raises(ModelNotFoundError):
        minimal.model_info("openai", "gpt-9")


def test_a_422_list_of_problems_is_one_sentence(minimal: Client, server: LocalServer) -> None:
    server.inject_fault("respond", path="/chat/completions", status=422, body={"detail": [
        {"loc": ["body", "messages", 0, "content"], "msg": "field required", "type": "missing"},
        {"loc": ["body", "temperature"], "msg": "must be at most 2", "type": "less_than_equal"}]})
    with pytest.raises(ValidationError, match=r"messages\.0\.content: field required; temperature: must be"):
        minimal.chat(ASK, model=MODEL)


@pytest.mark.parametrize(("status", "detail", "expected"), [
    (404, "Model 'openai/x' is disabled", ModelNotAvailableError),
    (503, "Model warming up, try later", ModelNotAvailableError),
    (400, "Request validation failed: bad shape", ValidationError),
])
def test_bare_detail_bodies_map_by_their_words(minimal: Client, server: LocalServer, status: int, detail: str,
                                               expected: type[Exception]) -> None:
    server.inject_fault("respond", path="/chat/completions", status=status, body={"detail": detail}, count=3)
    with pytest.raises(expected):
        minimal.chat(ASK, model=MODEL)


def test_a_server_that_refuses_base64_vectors_is_asked_for_floats(client: Client, server: LocalServer) -> None:
    server.clear_journal()
    server.inject_fault("respond", path="/embeddings", status=422,
                        body={"detail": [{"loc": ["body", "encoding_format"], "msg": "unknown field"}]})
    first = client.embeddings(["a", "b"], model="openai/text-embedding-3-small")
    second = client.embeddings(["c"], model="openai/text-embedding-3-small")
    assert len(first.data) == 2 and len(second.data) == 1
    sent = [json.loads(e["body"])["additional_params"] for e in server.journal() if e["path"].endswith("/embeddings")]
    assert sent == [{"encoding_format": "base64"}, {}, {}]
