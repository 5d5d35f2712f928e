"""ChatIndox and IndoxLLM: the eight entry points, metadata, tools, usage, secrets, retries."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ImageBlock, MessageRole, TextBlock
from llama_index.core.bridge.pydantic import Field
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.rate_limiter import TokenBucketRateLimiter
from llama_index.core.tools import FunctionTool

from indox_server import LocalServer
from llamaindex_indox import ChatIndox, IndoxLLM
from shared_client import ModelNotAvailableError, ValidationError

from ..helpers import loop_ticks

CONTEXT = "Mercury is the closest planet to the Sun. Neptune is the farthest. Which planet is the farthest?"
ANSWER = "Neptune is the farthest."
USER = [ChatMessage(role="user", content=CONTEXT)]


class Recorder(BaseEventHandler):
    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


@pytest.fixture
def recorder() -> Any:
    dispatcher = get_dispatcher()
    handler = Recorder()
    dispatcher.add_event_handler(handler)
    yield handler
    dispatcher.event_handlers.remove(handler)


def test_chat(llm: ChatIndox) -> None:
    response = llm.chat(USER)
    assert response.message.role == MessageRole.ASSISTANT and response.message.content == ANSWER
    usage = response.raw["usage"]
    assert set(usage) == {"prompt_tokens", "completion_tokens", "total_tokens"} and usage["completion_tokens"] == 5
    assert response.additional_kwargs == usage
    assert response.raw["model"] == "openai/gpt-4o-mini" and response.raw["cost"] > 0


def test_stream_chat_gives_delta_text_so_far_and_usage_last(llm: ChatIndox) -> None:
    responses = list(llm.stream_chat(USER))
    assert "".join(r.delta or "" for r in responses) == ANSWER
    assert [r.message.content for r in responses][-1] == ANSWER
    assert responses[3].message.content == "".join(r.delta or "" for r in responses[:4])
    assert responses[-1].raw["usage"]["completion_tokens"] == 5 and "usage" not in responses[0].raw
    assert responses[-1].additional_kwargs == responses[-1].raw["usage"]


def test_complete_goes_through_chat(llm: ChatIndox, server: LocalServer) -> None:
    server.clear_journal()
    assert llm.complete(CONTEXT).text == ANSWER
    assert json.loads(server.journal()[-1]["body"])["messages"] == [{"role": "user", "content": CONTEXT}]
    assert "".join(r.delta or "" for r in llm.stream_complete(CONTEXT)) == ANSWER


async def test_async_entry_points(llm: ChatIndox) -> None:
    assert (await llm.achat(USER)).message.content == ANSWER
    assert (await llm.acomplete(CONTEXT)).text == ANSWER
    chats = [r async for r in await llm.astream_chat(USER)]
    assert chats[-1].message.content == ANSWER and chats[-1].raw["usage"]["completion_tokens"] == 5
    completions = [r async for r in await llm.astream_complete(CONTEXT)]
    assert completions[-1].text == ANSWER


async def test_async_stream_delivers_chunks_as_they_arrive_and_loop_runs(llm: ChatIndox,
                                                                         server: LocalServer) -> None:
    server.inject_fault("stream_delay", path="/chat/completions", delay=0.05)
    loop = asyncio.get_running_loop()
    started, arrivals = loop.time(), []
    async with loop_ticks() as ticks:
        async for _response in await llm.astream_chat(USER):
            arrivals.append(loop.time() - started)
    assert len(arrivals) == 7 and arrivals[0] < arrivals[-1] / 3
    assert ticks[0] >= 20
    server.inject_fault("delay", path="/chat/completions", delay=0.3)
    async with loop_ticks() as ticks:
        await llm.achat(USER)
    assert ticks[0] >= 15


def test_all_entry_points_emit_instrumentation_events(llm: ChatIndox, recorder: Recorder) -> None:
    llm.chat(USER)
    list(llm.stream_chat(USER))
    llm.complete(CONTEXT)
    list(llm.stream_complete(CONTEXT))
    names = [type(e).__name__ for e in recorder.events]
    assert names.count("LLMChatStartEvent") == 2 and names.count("LLMChatEndEvent") == 2
    assert names.count("LLMCompletionStartEvent") == 2 and names.count("LLMCompletionEndEvent") == 2
    assert names.count("LLMChatInProgressEvent") >= 7


def test_rate_limiter_is_honoured(server: LocalServer) -> None:
    limiter = TokenBucketRateLimiter(requests_per_minute=60)
    llm = ChatIndox(api_key=server.api_key, base_url=server.base_url, rate_limiter=limiter)
    llm.chat(USER)
    assert limiter._request_tokens < 60  # the decorator drew from the bucket for our call


def test_metadata_from_the_router_cached(llm: ChatIndox, server: LocalServer) -> None:
    server.clear_journal()
    metadata = llm.metadata
    assert (metadata.context_window, metadata.num_output) == (128000, 16384)
    assert metadata.is_chat_model and metadata.is_function_calling_model
    assert metadata.model_name == "openai/gpt-4o-mini"
    again = ChatIndox(model="openai/gpt-4o-mini", api_key=server.api_key, base_url=server.base_url)
    assert again.metadata.context_window == 128000
    info_calls = [e for e in server.journal() if e["path"].startswith("/api/v1/models/")]
    assert len(info_calls) <= 1  # looked up once for this base URL and model


def test_metadata_overrides_and_small_models(server: LocalServer) -> None:
    fixed = ChatIndox(api_key=server.api_key, base_url=server.base_url, context_window=1000, num_output=100)
    assert (fixed.metadata.context_window, fixed.metadata.num_output) == (1000, 100)
    capped = ChatIndox(api_key=server.api_key, base_url=server.base_url, max_tokens=64)
    assert capped.metadata.num_output == 64
    instruct = IndoxLLM(api_key=server.api_key, base_url=server.base_url)
    assert (instruct.metadata.context_window, instruct.metadata.num_output) == (4096, 1024)
    assert not instruct.metadata.is_chat_model and not instruct.metadata.is_function_calling_model


def test_unknown_model_metadata_falls_back_loudly(server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="llamaindex_indox")
    unknown = ChatIndox(model="openai/not-a-model", api_key=server.api_key, base_url=server.base_url)
    metadata = unknown.metadata
    assert (metadata.context_window, metadata.num_output) == (8192, 1024) and metadata.context_window != 2048
    assert "not-a-model" in caplog.text and "context_window" in caplog.text


def test_messages_with_images_tool_calls_and_results(llm: ChatIndox, server: LocalServer) -> None:
    from indox_server.engine.image import render_png

    server.clear_journal()
    image = ChatMessage(role="user", blocks=[TextBlock(text="What is this?"), ImageBlock(image=render_png("x", 4, 4))])
    assert llm.chat([image]).message.content.startswith("I see 1 image.")
    sent = json.loads(server.journal()[-1]["body"])["messages"][0]["content"]
    assert sent[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_tool_calling_round_trip(llm: ChatIndox, server: LocalServer) -> None:
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    tool = FunctionTool.from_defaults(fn=multiply)
    response = llm.chat_with_tools([tool], user_msg="Please multiply 6 and 7.")
    (call,) = llm.get_tool_calls_from_response(response)
    assert (call.tool_name, call.tool_kwargs) == ("multiply", {"a": 6, "b": 7}) and call.tool_id.startswith("call_")
    result = ChatMessage(role="tool", content="42", additional_kwargs={"tool_call_id": call.tool_id})
    server.clear_journal()
    answer = llm.chat([ChatMessage(role="user", content="Please multiply 6 and 7."), response.message, result],
                      tools=[tool.metadata.to_openai_tool()])
    assert answer.message.content == "multiply returned: 42."
    sent = json.loads(server.journal()[-1]["body"])["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.tool_id and sent[1]["content"] is None
    assert sent[2] == {"role": "tool", "content": "42", "tool_call_id": call.tool_id}


def test_prepare_chat_with_tools_options(llm: ChatIndox) -> None:
    tool = FunctionTool.from_defaults(fn=lambda x: x, name="echo", description="Echo.")
    required = llm._prepare_chat_with_tools([tool], user_msg="hi", tool_required=True)
    assert required["tool_choice"] == "required" and required["parallel_tool_calls"] is False
    named = llm._prepare_chat_with_tools([tool], user_msg="hi", tool_choice="echo", allow_parallel_tool_calls=True)
    assert named["tool_choice"] == {"type": "function", "function": {"name": "echo"}}
    assert named["parallel_tool_calls"] is True and named["messages"][-1].content == "hi"
    forced = llm.chat_with_tools([tool], user_msg="nothing to do with it", tool_required=True)
    assert llm.get_tool_calls_from_response(forced)[0].tool_name == "echo"


def test_parallel_calls_trimmed_unless_allowed(llm: ChatIndox) -> None:
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    def multiply(a: int, b: int) -> int:
        """Multiply."""
        return a * b

    tools = [FunctionTool.from_defaults(fn=add), FunctionTool.from_defaults(fn=multiply)]
    both = llm.chat_with_tools(tools, user_msg="add and multiply 2 and 3", allow_parallel_tool_calls=True)
    assert [c.tool_name for c in llm.get_tool_calls_from_response(both)] == ["add", "multiply"]
    one = llm.chat_with_tools(tools, user_msg="add and multiply 2 and 3")
    assert [c.tool_name for c in llm.get_tool_calls_from_response(one)] == ["add"]


def test_tool_calls_from_streamed_partials_and_from_plain_chunks(llm: ChatIndox) -> None:
    def lookup(city: str, country: str) -> str:
        """Look up a city."""
        return city

    tool = FunctionTool.from_defaults(fn=lookup)
    seen = []
    for response in llm.stream_chat_with_tools([tool], user_msg='Please lookup "Porto" in "Portugal".'):
        seen.append(llm.get_tool_calls_from_response(response, error_on_no_tool_call=False))
    assert seen[0] == []  # the role chunk: no call yet, and no error
    partial = [calls[0].tool_kwargs for calls in seen if calls]
    assert partial[0] == {} or isinstance(partial[0], dict)
    assert partial[-1] == {"city": "Porto", "country": "Porto"} or partial[-1]["city"] == "Porto"
    with pytest.raises(ValueError):
        llm.get_tool_calls_from_response(ChatResponse(message=ChatMessage(role="assistant", content="x")))


def test_one_retry_layer_and_no_retry_of_4xx(server: LocalServer) -> None:
    llm = ChatIndox(api_key=server.api_key, base_url=server.base_url, max_retries=2)
    llm.chat(USER)
    server.inject_fault("respond", path="/chat/completions", status=503, count=5)
    server.clear_journal()
    with pytest.raises(ModelNotAvailableError):
        llm.chat(USER)
    assert len(server.journal()) == 3  # the first try and two retries, nothing more
    server.clear_faults()
    server.inject_fault("respond", path="/chat/completions", status=422, count=5)
    server.clear_journal()
    with pytest.raises(ValidationError):
        llm.chat(USER)
    assert len(server.journal()) == 1


def test_key_never_in_dicts_json_reprs_or_event_payloads(server: LocalServer, recorder: Recorder) -> None:
    llm = ChatIndox(api_key=server.api_key, base_url=server.base_url)
    llm.chat(USER)
    list(llm.stream_chat(USER))
    texts = [json.dumps(llm.to_dict(), default=str), llm.to_json(), repr(llm), str(llm)]
    texts += [repr(event) for event in recorder.events]
    texts += [json.dumps(event.model_dump(), default=str) for event in recorder.events]
    for text in texts:
        assert server.api_key not in text


def test_models_pickle(llm: ChatIndox) -> None:
    llm.chat(USER)
    copy = pickle.loads(pickle.dumps(llm))
    assert copy.chat(USER).message.content == ANSWER
    completion = IndoxLLM(api_key=llm.api_key, base_url=llm.base_url)
    assert pickle.loads(pickle.dumps(completion)).model == "openai/gpt-3.5-turbo-instruct"


def test_indox_llm_entry_points_and_chat_rendering(server: LocalServer) -> None:
    llm = IndoxLLM(api_key=server.api_key, base_url=server.base_url)
    assert llm.complete(CONTEXT).text == ANSWER
    assert llm.complete(CONTEXT).raw["usage"]["completion_tokens"] == 5
    assert "".join(r.delta or "" for r in llm.stream_complete(CONTEXT)) == ANSWER
    server.clear_journal()
    chat = llm.chat([ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content=CONTEXT)])
    assert chat.message.content == ANSWER
    prompt = json.loads(server.journal()[-1]["body"])["prompt"]
    assert "system: Be brief." in prompt and f"user: {CONTEXT}" in prompt
    assert list(llm.stream_chat(USER))[-1].message.content == ANSWER


async def test_indox_llm_async(server: LocalServer) -> None:
    llm = IndoxLLM(api_key=server.api_key, base_url=server.base_url)
    assert (await llm.acomplete(CONTEXT)).text == ANSWER
    assert (await llm.achat(USER)).message.content == ANSWER
    assert [r async for r in await llm.astream_complete(CONTEXT)][-1].text == ANSWER
    assert [r async for r in await llm.astream_chat(USER)][-1].message.content == ANSWER
