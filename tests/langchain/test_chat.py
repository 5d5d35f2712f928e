"""ChatIndox beyond the standard suites: chains, streaming callbacks, metadata, errors, async."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, Field

from indox_server import LocalServer
from langchain_indox import ChatIndox, IndoxImageTool
from langchain_indox._convert import to_wire_messages
from shared_client import AuthenticationError, Client, RateLimitError

from ..helpers import loop_ticks
from .callbacks import Recorder

CONTEXT = "The Nile flows north. The Amazon carries the most water. Which river carries the most water?"


@pytest.fixture
def llm(server: LocalServer) -> ChatIndox:
    return ChatIndox(model="openai/gpt-4o-mini", api_key=server.api_key, base_url=server.base_url)


def test_lcel_chain_invoke_batch_stream(llm: ChatIndox) -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "Answer from this text: {text}"), ("human", "{question}")])
    chain = prompt | llm | StrOutputParser()
    text = "Owls hunt at night. Larks sing at dawn."
    assert chain.invoke({"text": text, "question": "When do owls hunt?"}) == "Owls hunt at night."
    answers = chain.batch([{"text": text, "question": q} for q in ("When do owls hunt?", "When do larks sing?")])
    assert answers == ["Owls hunt at night.", "Larks sing at dawn."]
    pieces = list(chain.stream({"text": text, "question": "When do larks sing?"}))
    assert len(pieces) > 3 and "".join(pieces) == "Larks sing at dawn."


def test_stream_metadata_on_exactly_one_chunk_and_every_token_once(llm: ChatIndox) -> None:
    counter = Recorder()
    chunks = list(llm.stream(CONTEXT, config={"callbacks": [counter]}))
    assert "".join(c.text for c in chunks) == "The Amazon carries the most water."
    assert [c.usage_metadata is not None for c in chunks].count(True) == 1
    assert ["model_name" in c.response_metadata for c in chunks].count(True) == 1
    assert chunks[-1].chunk_position == "last" and chunks[-1].usage_metadata
    assert counter.tokens == [c.text for c in chunks] and len(counter.results) == 1
    full = sum(chunks[1:], chunks[0])
    assert isinstance(full, AIMessageChunk)
    plain = llm.invoke(CONTEXT)
    assert full.usage_metadata == plain.usage_metadata
    assert full.response_metadata["model_name"] == "openai/gpt-4o-mini"


def test_invoke_with_streaming_true_fires_each_token_once(server: LocalServer) -> None:
    counter = Recorder()
    llm = ChatIndox(model="openai/gpt-4o-mini", streaming=True, api_key=server.api_key, base_url=server.base_url)
    message = llm.invoke(CONTEXT, config={"callbacks": [counter]})
    assert "".join(counter.tokens) == message.content == "The Amazon carries the most water."
    assert len(counter.tokens) == 9  # role chunk, 7 tokens, final chunk: no token twice
    assert message.usage_metadata and message.usage_metadata["output_tokens"] == 7


def test_response_metadata(llm: ChatIndox) -> None:
    message = llm.invoke(CONTEXT)
    metadata = message.response_metadata
    assert metadata["model_name"] == "openai/gpt-4o-mini" and metadata["model_provider"] == "indoxrouter"
    assert metadata["finish_reason"] == "stop" and metadata["request_id"].startswith("req_")
    assert metadata["cost"] == pytest.approx(
        (message.usage_metadata["input_tokens"] * 0.00015 + message.usage_metadata["output_tokens"] * 0.0006) / 1000)
    override = llm.invoke(CONTEXT, model="anthropic/claude-3-haiku")
    assert override.response_metadata["model_name"] == "anthropic/claude-3-haiku"
    assert llm._get_ls_params(model="anthropic/claude-3-haiku")["ls_model_name"] == "anthropic/claude-3-haiku"


def test_usage_with_custom_base_url_by_default(llm: ChatIndox) -> None:
    streamed = list(llm.stream("Hello"))
    assert sum(1 for c in streamed if c.usage_metadata) == 1


def test_stop_from_constructor_and_per_call(server: LocalServer) -> None:
    llm = ChatIndox(model="openai/gpt-4o-mini", stop=[" the most"], api_key=server.api_key,
                    base_url=server.base_url)
    assert llm.invoke(CONTEXT).content == "The Amazon carries"
    assert llm.invoke(CONTEXT, stop=[" carries"]).content == "The Amazon"


def test_model_kwargs_and_max_tokens_travel(server: LocalServer) -> None:
    llm = ChatIndox(model="openai/gpt-4o-mini", max_tokens=2, model_kwargs={"seed": 5, "top_p": 0.5},
                    api_key=server.api_key, base_url=server.base_url)
    server.clear_journal()
    assert llm.invoke(CONTEXT).content == "The Amazon"
    sent = json.loads(server.journal()[-1]["body"])
    assert sent["max_tokens"] == 2 and sent["additional_params"] == {"seed": 5, "top_p": 0.5}


def test_message_conversion_covers_every_kind() -> None:
    image = base64.b64encode(b"\x89PNG fake").decode()
    wire = to_wire_messages([
        SystemMessage("Be terse."),
        HumanMessage("Hi", name="ann"),
        HumanMessage(content=[{"type": "text", "text": "Look"},
                              {"type": "image", "base64": image, "mime_type": "image/png"},
                              {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]),
        AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}]),
        ToolMessage("Error: b is missing", tool_call_id="c1", status="error"),
        ToolMessage(content=[{"type": "text", "text": "3"}], tool_call_id="c1"),
    ])
    assert wire[0] == {"role": "system", "content": "Be terse."}
    assert wire[1] == {"role": "user", "name": "ann", "content": "Hi"}
    assert wire[2]["content"][1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}}
    assert wire[3]["tool_calls"] == [{"type": "function", "id": "c1",
                                      "function": {"name": "add", "arguments": "{\"a\": 1}"}}]
    assert wire[4] == {"role": "tool", "tool_call_id": "c1", "content": "Error: b is missing"}
    assert wire[5]["content"] == "3"


def test_local_image_input_is_accepted(llm: ChatIndox) -> None:
    from indox_server.engine.image import render_png

    png = base64.b64encode(render_png("x", 8, 8)).decode()
    answer = llm.invoke([HumanMessage(content=[{"type": "text", "text": "Describe this."},
                                               {"type": "image", "base64": png, "mime_type": "image/png"}])])
    assert str(answer.content).startswith("I see 1 image.")


def test_tool_call_chunks_always_have_an_index(llm: ChatIndox) -> None:
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
    chunks = list(llm.bind_tools([weather]).stream("What is the weather in Oslo?"))
    calls = [c for chunk in chunks for c in chunk.tool_call_chunks]
    assert len(calls) > 1 and all(c["index"] == 0 for c in calls)
    full = sum(chunks[1:], chunks[0])
    assert full.tool_calls[0]["args"] == {"location": "Oslo"}


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", None), ("none", None), ("any", "add"), ("required", "add"), (True, "add"), ("multiply", "multiply"),
    ({"type": "function", "function": {"name": "multiply"}}, "multiply"),
])
def test_tool_choice_forms(llm: ChatIndox, choice: Any, expected: str | None) -> None:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    class multiply(BaseModel):
        """Multiply two integers."""

        a: int
        b: int

    message = llm.bind_tools([add, multiply], tool_choice=choice).invoke("Hello there, 6 and 7")
    names = [call["name"] for call in message.tool_calls]
    assert names == ([expected] if expected else [])
    if expected:
        assert message.tool_calls[0]["args"] == {"a": 6, "b": 7}


def test_unknown_tool_choice_name_fails_before_sending(llm: ChatIndox) -> None:
    with pytest.raises(ValueError, match="not one of the bound tools"):
        llm.bind_tools([{"type": "function", "function": {"name": "a", "parameters": {}}}], tool_choice="b")


class Person(BaseModel):
    """A person."""

    name: str = Field(description="The person's name")
    age: int = Field(description="Age in years")


@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
def test_structured_output_methods(llm: ChatIndox, method: str) -> None:
    prompt = "My name is Grace and I am 85. Reply as JSON with 'name' and 'age'."
    if method == "json_mode":  # JSON mode fills every quoted key with text: check the shape only
        raw = llm.with_structured_output(None or Person.model_json_schema(), method=method).invoke(prompt)
        assert set(raw) == {"name", "age"}
        return
    person = llm.with_structured_output(Person, method=method).invoke(prompt)
    assert person == Person(name="Grace", age=85)


def test_structured_output_include_raw(llm: ChatIndox) -> None:
    result = llm.with_structured_output(Person, include_raw=True).invoke("My name is Alan and I am 41.")
    assert isinstance(result["raw"], AIMessage) and result["parsing_error"] is None
    assert result["parsed"] == Person(name="Alan", age=41)


def test_errors_surface_as_the_clients_typed_errors(llm: ChatIndox, server: LocalServer) -> None:
    llm.invoke("Hi")
    server.inject_fault("respond", path="/chat/completions", status=429, count=3,
                        headers={"Retry-After": "120"})
    with pytest.raises(RateLimitError) as caught:
        llm.invoke("Hi")
    assert caught.value.retry_after == 120.0


def test_with_retry_and_fallbacks_act_on_typed_errors(server: LocalServer) -> None:
    shared = Client(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    llm = ChatIndox(model="openai/gpt-4o-mini", client=shared)
    llm.invoke("Hi")
    server.inject_fault("respond", path="/chat/completions", status=429, count=1, headers={"Retry-After": "0"})
    retried = llm.with_retry(retry_if_exception_type=(RateLimitError,), wait_exponential_jitter=False,
                             stop_after_attempt=2)
    assert retried.invoke(CONTEXT).content == "The Amazon carries the most water."
    server.inject_fault("respond", path="/chat/completions", status=503, count=1)
    backup = ChatIndox(model="anthropic/claude-3-haiku", client=shared)
    answer = llm.with_fallbacks([backup]).invoke(CONTEXT)
    assert answer.response_metadata["model_name"] == "anthropic/claude-3-haiku"
    shared.close()


def test_construction_needs_no_key_but_the_first_call_does(monkeypatch: pytest.MonkeyPatch, dead_url: str) -> None:
    monkeypatch.delenv("INDOX_ROUTER_API_KEY", raising=False)
    llm = ChatIndox(model="openai/gpt-4o-mini", base_url=dead_url)
    with pytest.raises(AuthenticationError):
        llm.invoke("Hi")


def test_indox_api_key_alias(server: LocalServer) -> None:
    llm = ChatIndox(model="openai/gpt-4o-mini", indox_api_key=server.api_key, base_url=server.base_url)
    assert llm.api_key is not None and llm.api_key.get_secret_value() == server.api_key
    assert llm.invoke("Hi").content


def test_several_integrations_share_one_client(server: LocalServer) -> None:
    shared = Client(api_key=server.api_key, base_url=server.base_url)
    chat = ChatIndox(model="openai/gpt-4o-mini", client=shared)
    tool = IndoxImageTool(client=shared, size="32x32")
    assert chat.indox_client is shared and tool.indox_client is shared
    chat.invoke("Hi")
    tool.invoke({"prompt": "a red square"})
    shared.close()


async def test_async_stream_arrives_chunk_by_chunk_without_blocking_the_loop(llm: ChatIndox,
                                                                            server: LocalServer) -> None:
    server.inject_fault("stream_delay", path="/chat/completions", delay=0.05)
    started, arrivals = time.perf_counter(), []
    async with loop_ticks() as ticks:
        async for _chunk in llm.astream(CONTEXT):
            arrivals.append(time.perf_counter() - started)
    assert len(arrivals) >= 9 and arrivals[0] < arrivals[-1] / 3
    assert ticks[0] >= 20  # the loop ran all along: about 0.4 s of streaming at 10 ms a tick
    server.inject_fault("delay", path="/chat/completions", delay=0.3)
    async with loop_ticks() as ticks:
        assert (await llm.ainvoke(CONTEXT)).content
    assert ticks[0] >= 15
