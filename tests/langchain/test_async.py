"""The natively async twins of every LangChain entry point, over real HTTP against the local server.

They run on ``shared_client.AsyncClient``: results equal to the sync paths, callbacks once per
token, no thread per call (no executor at all), one client per event loop, real concurrency.
"""

from __future__ import annotations

import asyncio
import gc
import json
import pickle
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import LLMResult
from langchain_core.tools import tool

from indox_server import LocalServer
from langchain_indox import ChatIndox, IndoxEmbeddings, IndoxImageTool, IndoxLLM
from shared_client import AsyncClient, AuthenticationError, Client

from ..helpers import CountingExecutor
from .callbacks import Recorder

CONTEXT = "The Nile flows north. The Amazon carries the most water. Which river carries the most water?"
PROMPT = "Rain falls in spring. Snow falls in winter. When does snow fall?"
LOGIN = "/api/v1/auth/api-key"
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}


@pytest.fixture
def chat(server: LocalServer) -> ChatIndox:
    return ChatIndox(model="openai/gpt-4o-mini", api_key=server.api_key, base_url=server.base_url)


@pytest.fixture
def llm(server: LocalServer) -> IndoxLLM:
    return IndoxLLM(model="openai/gpt-3.5-turbo-instruct", api_key=server.api_key, base_url=server.base_url)


@pytest.fixture
def embeddings(server: LocalServer) -> IndoxEmbeddings:
    return IndoxEmbeddings(model="openai/text-embedding-3-small", dimensions=32, chunk_size=3,
                           api_key=server.api_key, base_url=server.base_url)


@pytest.fixture
def image_tool(server: LocalServer, tmp_path: Path) -> IndoxImageTool:
    return IndoxImageTool(api_key=server.api_key, base_url=server.base_url, size="16x16", image_format="b64_json",
                          output_dir=str(tmp_path))


def comparable(message: BaseMessage) -> tuple[Any, ...]:
    """What must be equal between a sync and an async answer (ids and request ids differ per call)."""
    assert isinstance(message, AIMessage)
    metadata = {k: v for k, v in message.response_metadata.items() if k != "request_id"}
    chunks = [{k: v for k, v in c.items() if k != "id"} for c in getattr(message, "tool_call_chunks", [])]
    calls = [{k: v for k, v in c.items() if k != "id"} for c in message.tool_calls]
    return (message.content, calls, chunks, message.usage_metadata, metadata,
            getattr(message, "chunk_position", None))


def logins(server: LocalServer) -> int:
    return sum(1 for entry in server.journal() if entry["path"] == LOGIN)


class AsyncRecorder(AsyncCallbackHandler):
    """Every token an async run reports, and its end."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.results: list[LLMResult] = []

    async def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)

    async def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.results.append(response)


# --- results equal to the sync paths ----------------------------------------------------------

async def test_chat_ainvoke_astream_abatch_equal_sync(chat: ChatIndox) -> None:
    assert comparable(await chat.ainvoke(CONTEXT)) == comparable(chat.invoke(CONTEXT))
    assert (await chat.ainvoke(CONTEXT)).content == "The Amazon carries the most water."

    streamed = [chunk async for chunk in chat.astream(CONTEXT)]
    assert [comparable(c) for c in streamed] == [comparable(c) for c in chat.stream(CONTEXT)]
    assert "".join(c.text for c in streamed) == "The Amazon carries the most water."
    assert [c.usage_metadata is not None for c in streamed].count(True) == 1
    assert [c.response_metadata.get("model_name") for c in streamed if c.response_metadata.get("model_name")] == [
        "openai/gpt-4o-mini"]
    assert streamed[-1].chunk_position == "last"

    questions = [CONTEXT, "Owls hunt at night. Larks sing at dawn. When do owls hunt?"]
    assert [comparable(m) for m in await chat.abatch(questions)] == [comparable(m) for m in chat.batch(questions)]
    override = await chat.ainvoke(CONTEXT, model="anthropic/claude-3-haiku")
    assert override.response_metadata["model_name"] == "anthropic/claude-3-haiku"
    assert chat._lazy._client is not None  # the sync calls above made the sync client ...


async def test_chat_async_paths_never_touch_the_sync_client(chat: ChatIndox) -> None:
    await chat.ainvoke(CONTEXT)
    _ = [chunk async for chunk in chat.astream(CONTEXT)]
    await chat.abatch([CONTEXT, CONTEXT])
    assert chat._lazy._client is None  # ... the async ones never do


async def test_chat_async_tool_calls_equal_sync(chat: ChatIndox) -> None:
    bound = chat.bind_tools([WEATHER])
    question = "What is the weather in Oslo?"
    message = await bound.ainvoke(question)
    assert message.tool_calls[0]["name"] == "get_weather" and message.tool_calls[0]["args"] == {"location": "Oslo"}
    assert comparable(message) == comparable(bound.invoke(question))

    streamed = [chunk async for chunk in bound.astream(question)]
    assert [comparable(c) for c in streamed] == [comparable(c) for c in bound.stream(question)]
    calls = [c for chunk in streamed for c in chunk.tool_call_chunks]
    assert len(calls) > 1 and all(c["index"] == 0 for c in calls)
    full = sum(streamed[1:], streamed[0])
    assert isinstance(full, AIMessageChunk) and full.tool_calls[0]["args"] == {"location": "Oslo"}


async def test_chat_async_structured_output(chat: ChatIndox) -> None:
    schema = {"title": "Person", "type": "object", "properties": {"name": {"type": "string"},
                                                                  "age": {"type": "integer"}},
              "required": ["name", "age"]}
    structured = chat.with_structured_output(schema)
    assert await structured.ainvoke("My name is Grace and I am 85.") == {"name": "Grace", "age": 85}


async def test_llm_ainvoke_astream_abatch_agenerate_equal_sync(llm: IndoxLLM) -> None:
    assert await llm.ainvoke(PROMPT) == llm.invoke(PROMPT) == "Snow falls in winter."
    pieces = [piece async for piece in llm.astream(PROMPT)]
    assert pieces == list(llm.stream(PROMPT)) and len(pieces) > 3
    prompts = [PROMPT, "Cats purr. Dogs bark. What do dogs do?"]
    assert await llm.abatch(prompts) == llm.batch(prompts) == ["Snow falls in winter.", "Dogs bark."]
    sync_result, async_result = llm.generate(prompts), await llm.agenerate(prompts)
    assert async_result.generations == sync_result.generations
    assert async_result.llm_output == sync_result.llm_output
    assert async_result.llm_output is not None and async_result.llm_output["token_usage"]["completion_tokens"] > 5


async def test_llm_raw_astream_chunks_equal_sync(llm: IndoxLLM) -> None:
    chunks = [chunk async for chunk in llm._astream(PROMPT)]
    assert chunks == list(llm._stream(PROMPT))
    assert chunks[-1].generation_info and chunks[-1].generation_info["token_usage"]["completion_tokens"] == 5
    assert all(c.generation_info is None for c in chunks[:-1])


async def test_embeddings_async_equal_sync(embeddings: IndoxEmbeddings) -> None:
    texts = [f"text number {i}" for i in range(10)]  # four batches of at most 3
    vectors = await embeddings.aembed_documents(texts)
    assert vectors == embeddings.embed_documents(texts)
    assert len(vectors) == 10 and all(len(v) == 32 for v in vectors) and len({tuple(v) for v in vectors}) == 10
    assert await embeddings.aembed_query("text number 4") == embeddings.embed_query("text number 4") == vectors[4]
    assert await embeddings.aembed_documents([]) == []


class PeakCounting(AsyncClient):
    """An AsyncClient that records how many embedding requests were in flight at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = self.peak = 0
        self.batches: list[list[str]] = []

    async def embeddings(self, text: Any, model: str, byok_api_key: str | None = None, **kwargs: Any) -> Any:
        self.now += 1
        self.peak = max(self.peak, self.now)
        self.batches.append(list(text))
        try:
            return await super().embeddings(text, model, byok_api_key, **kwargs)
        finally:
            self.now -= 1


@pytest.mark.parametrize("limit", [1, 4])
async def test_aembed_documents_batches_concurrently_up_to_the_cap_in_order(server: LocalServer,
                                                                            limit: int) -> None:
    texts = [f"document {i}" for i in range(20)]
    sync = IndoxEmbeddings(model="local/hash-embedding-256", chunk_size=2, api_key=server.api_key,
                           base_url=server.base_url)
    expected = sync.embed_documents(texts)
    async with PeakCounting(api_key=server.api_key, base_url=server.base_url) as counting:
        embeddings = IndoxEmbeddings(model="local/hash-embedding-256", chunk_size=2, max_concurrency=limit,
                                     async_client=counting)
        server.inject_fault("delay", path="/embeddings", delay=0.05, count=10)
        assert await embeddings.aembed_documents(texts) == expected
    assert sorted(counting.batches) == sorted([texts[i:i + 2] for i in range(0, 20, 2)])
    assert counting.peak == limit


async def test_aembed_documents_failure_cancels_the_other_batches(server: LocalServer) -> None:
    from shared_client import ProviderError

    embeddings = IndoxEmbeddings(model="local/hash-embedding-256", chunk_size=1, max_concurrency=2,
                                 api_key=server.api_key, base_url=server.base_url, max_retries=0)
    await embeddings.aembed_query("warm up")
    server.inject_fault("respond", path="/embeddings", status=503, count=1)  # the first batch fails at once
    server.inject_fault("delay", path="/embeddings", delay=2.0, count=10)  # the others take long
    started = time.perf_counter()
    with pytest.raises(ProviderError):
        await embeddings.aembed_documents(["a", "b", "c", "d", "e", "f"])
    assert time.perf_counter() - started < 1.5  # not waiting for the slow batch in flight ...
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []  # ... which was cancelled
    server.clear_faults()
    assert len(await embeddings.aembed_documents(["a", "b", "c"])) == 3


async def test_tool_ainvoke_equals_invoke(image_tool: IndoxImageTool, tmp_path: Path) -> None:
    args = {"prompt": "a lighthouse at dusk", "size": "16x8"}
    path = await image_tool.ainvoke(args)
    assert path == image_tool.invoke(args)
    assert Path(path).parent == tmp_path and Path(path).read_bytes()[:4] == b"\x89PNG"
    call = {"type": "tool_call", "id": "call_9", "name": image_tool.name, "args": {"prompt": "a red square"}}
    artifact_tool = image_tool.model_copy(update={"response_format": "content_and_artifact"})
    message = await artifact_tool.ainvoke(call)
    assert isinstance(message, ToolMessage) and message.tool_call_id == "call_9"
    assert (message.content, message.artifact) == (lambda m: (m.content, m.artifact))(artifact_tool.invoke(call))
    (block,) = message.artifact
    assert block["type"] == "image" and block["mime_type"] == "image/png"


async def test_tool_ainvoke_url_format(server: LocalServer) -> None:
    tool_ = IndoxImageTool(api_key=server.api_key, base_url=server.base_url, size="16x16")
    assert (await tool_.ainvoke({"prompt": "a moon"})).startswith(server.api_root + "/files/images/")
    assert tool_._lazy._client is None


# --- callbacks --------------------------------------------------------------------------------

async def test_chat_async_stream_callbacks_see_each_token_once(chat: ChatIndox, server: LocalServer) -> None:
    sync_recorder, recorder = Recorder(), AsyncRecorder()
    sync_chunks = list(chat.stream(CONTEXT, config={"callbacks": [sync_recorder]}))
    chunks = [chunk async for chunk in chat.astream(CONTEXT, config={"callbacks": [recorder]})]
    assert recorder.tokens == [c.text for c in chunks] == sync_recorder.tokens == [c.text for c in sync_chunks]
    assert "".join(recorder.tokens) == "The Amazon carries the most water." and len(recorder.results) == 1

    streaming = ChatIndox(model="openai/gpt-4o-mini", streaming=True, api_key=server.api_key,
                          base_url=server.base_url)
    recorder = AsyncRecorder()
    message = await streaming.ainvoke(CONTEXT, config={"callbacks": [recorder]})
    assert "".join(recorder.tokens) == message.content == "The Amazon carries the most water."
    assert len(recorder.tokens) == 9  # role chunk, 7 tokens, final chunk: as the sync path
    assert message.usage_metadata and message.usage_metadata["output_tokens"] == 7
    assert message.response_metadata["model_name"] == "openai/gpt-4o-mini"


async def test_llm_async_stream_callbacks_see_each_token_once(llm: IndoxLLM, server: LocalServer) -> None:
    sync_recorder, recorder = Recorder(), AsyncRecorder()
    sync_pieces = list(llm.stream(PROMPT, config={"callbacks": [sync_recorder]}))
    pieces = [piece async for piece in llm.astream(PROMPT, config={"callbacks": [recorder]})]
    assert recorder.tokens == pieces == sync_recorder.tokens == sync_pieces

    streaming = IndoxLLM(model="anthropic/claude-3-haiku", streaming=True, api_key=server.api_key,
                         base_url=server.base_url)
    recorder = AsyncRecorder()
    assert await streaming.ainvoke(PROMPT, config={"callbacks": [recorder]}) == "Snow falls in winter."
    assert "".join(recorder.tokens) == "Snow falls in winter." and len(recorder.tokens) == 6
    (result,) = recorder.results
    assert result.llm_output is not None and result.llm_output["token_usage"]["completion_tokens"] == 5
    assert result.llm_output["model_name"] == "anthropic/claude-3-haiku"
    assert result.generations[0][0].generation_info == {"finish_reason": "stop"}


# --- event loops, agents, executors, concurrency, cancellation ---------------------------------

def test_asyncio_run_twice_on_one_model(server: LocalServer) -> None:
    """Each asyncio.run gets its own client, closed with its loop: no error, no ResourceWarning."""
    chat = ChatIndox(model="openai/gpt-4o-mini", api_key=server.api_key, base_url=server.base_url)
    llm = IndoxLLM(model="openai/gpt-3.5-turbo-instruct", api_key=server.api_key, base_url=server.base_url)
    unraisable: list[Any] = []
    previous_hook = sys.unraisablehook
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        sys.unraisablehook = unraisable.append
        try:
            first = asyncio.run(chat.ainvoke(CONTEXT))
            second = asyncio.run(chat.ainvoke(CONTEXT))
            texts = [asyncio.run(llm.ainvoke(PROMPT)) for _ in range(2)]
            gc.collect()
        finally:
            sys.unraisablehook = previous_hook
    assert first.content == second.content == "The Amazon carries the most water."
    assert texts == ["Snow falls in winter."] * 2
    assert [u.exc_value for u in unraisable] == []


async def test_one_client_per_loop_reused_within_it(chat: ChatIndox, server: LocalServer) -> None:
    server.clear_journal()
    await chat.ainvoke("Hi")
    await asyncio.gather(*(chat.ainvoke("Hi") for _ in range(5)))
    assert await chat._aindox_client() is await chat._aindox_client()
    assert logins(server) == 1


async def test_create_agent_ainvoke_calls_the_tool(chat: ChatIndox) -> None:
    from langchain.agents import create_agent

    seen: list[tuple[int, int]] = []

    @tool
    async def add(a: int, b: int) -> int:
        """Add two integers."""
        seen.append((a, b))
        return a + b

    agent = create_agent(chat, tools=[add])
    state = await agent.ainvoke({"messages": [{"role": "user", "content": "Please add 2 and 40."}]})
    kinds = [type(m).__name__ for m in state["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert seen == [(2, 40)] and state["messages"][2].content == "42"
    assert state["messages"][-1].content == "add returned: 42."
    assert chat._lazy._client is None  # the model ran on its async path only


async def test_create_agent_ainvoke_with_the_image_tool(chat: ChatIndox, image_tool: IndoxImageTool,
                                                        tmp_path: Path) -> None:
    from langchain.agents import create_agent

    agent = create_agent(chat, tools=[image_tool])
    state = await agent.ainvoke({"messages": [{"role": "user",
                                               "content": "Please draw a picture of a castle on a hill."}]})
    (png,) = tmp_path.glob("*.png")
    assert state["messages"][2].content == str(png) and png.read_bytes()[:4] == b"\x89PNG"
    assert state["messages"][-1].content == f"generate_image returned: {png}."
    assert chat._lazy._client is None and image_tool._lazy._client is None


async def test_no_executor_is_used(chat: ChatIndox, llm: IndoxLLM, embeddings: IndoxEmbeddings,
                                   image_tool: IndoxImageTool) -> None:
    async def every_entry_point() -> None:
        assert (await chat.ainvoke(CONTEXT)).content
        assert [chunk async for chunk in chat.astream(CONTEXT)]
        assert len(await chat.abatch([CONTEXT, CONTEXT])) == 2
        assert await llm.ainvoke(PROMPT)
        assert [piece async for piece in llm.astream(PROMPT)]
        assert len(await llm.abatch([PROMPT, PROMPT])) == 2
        assert len(await embeddings.aembed_documents([f"t{i}" for i in range(10)])) == 10
        assert await embeddings.aembed_query("q")
        assert await image_tool.ainvoke({"prompt": "a tree"})

    await every_entry_point()  # warm-up: logins, connections
    loop = asyncio.get_running_loop()
    counting = CountingExecutor(max_workers=1)
    loop.set_default_executor(counting)
    for _ in range(3):
        await every_entry_point()
    assert counting.submitted == 0


async def test_no_executor_check_can_fail(chat: ChatIndox) -> None:
    """The counting executor does see LangChain's thread fallback (here: a sync-only tool)."""

    @tool
    def double(x: int) -> int:
        """Double a number."""
        return 2 * x

    await chat.ainvoke(CONTEXT)
    loop = asyncio.get_running_loop()
    counting = CountingExecutor(max_workers=1)
    loop.set_default_executor(counting)
    assert await double.ainvoke({"x": 2}) == 4
    assert counting.submitted == 1


async def test_32_concurrent_ainvoke_overlap(chat: ChatIndox, server: LocalServer) -> None:
    await chat.ainvoke("warm up")
    server.inject_fault("delay", path="/chat/completions", delay=0.5, count=32)
    started = time.perf_counter()
    answers = await asyncio.gather(*(chat.ainvoke(CONTEXT) for _ in range(32)))
    elapsed = time.perf_counter() - started
    assert [a.content for a in answers] == ["The Amazon carries the most water."] * 32
    assert 0.5 <= elapsed < 3.0  # every request was delayed, and they waited together
    assert server.pending_faults() == []


def busy_connections(client: AsyncClient) -> int:
    """Connections of the client's pool left in the middle of an answer."""
    pool = client._transport.client._transport  # type: ignore[attr-defined]
    return sum(1 for c in pool.connections if not c.is_idle() and not c.is_closed())


async def test_cancelled_stream_leaves_the_model_usable(chat: ChatIndox, llm: IndoxLLM, server: LocalServer) -> None:
    await chat.ainvoke("warm up")
    client = await chat._aindox_client()
    got: list[str] = []
    second_chunk = asyncio.Event()

    async def consume() -> None:
        async for chunk in chat.astream(CONTEXT):
            got.append(chunk.text)
            if len(got) == 2:
                second_chunk.set()

    server.inject_fault("stream_delay", path="/chat/completions", delay=0.2)
    task = asyncio.create_task(consume())
    await asyncio.wait_for(second_chunk.wait(), 5)
    assert busy_connections(client) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 2 <= len(got) < 9
    assert busy_connections(client) == 0  # the cancelled stream released its connection
    message = await asyncio.wait_for(chat.ainvoke(CONTEXT), 5)
    assert message.content == "The Amazon carries the most water."
    streamed = await asyncio.wait_for(_collect(chat), 5)
    assert "".join(streamed) == "The Amazon carries the most water."

    llm_client = await llm._aindox_client()
    server.inject_fault("stream_delay", path="/completions", delay=0.2)
    pieces: list[str] = []
    async for piece in llm.astream(PROMPT):  # leaving by break closes the stream too
        pieces.append(piece)
        break
    await asyncio.sleep(0.05)  # the loop closes the abandoned generators
    assert pieces and busy_connections(llm_client) == 0
    assert await asyncio.wait_for(llm.ainvoke(PROMPT), 5) == "Snow falls in winter."


async def _collect(chat: ChatIndox) -> list[str]:
    return [chunk.text async for chunk in chat.astream(CONTEXT)]


# --- the shared async_client, keys and serialization -----------------------------------------

async def test_shared_async_client_is_used(server: LocalServer, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.delenv("INDOX_ROUTER_API_KEY", raising=False)
    async with AsyncClient(api_key=server.api_key, base_url=server.base_url) as shared:
        chat = ChatIndox(model="openai/gpt-4o-mini", async_client=shared)
        llm = IndoxLLM(model="openai/gpt-3.5-turbo-instruct", async_client=shared)
        embeddings = IndoxEmbeddings(model="openai/text-embedding-3-small", chunk_size=2, async_client=shared)
        image = IndoxImageTool(async_client=shared, size="16x16", image_format="b64_json", output_dir=str(tmp_path))
        for integration in (chat, llm, embeddings, image):
            assert await integration._aindox_client() is shared
        server.clear_journal()
        assert (await chat.ainvoke(CONTEXT)).content == "The Amazon carries the most water."
        assert [chunk async for chunk in chat.astream(CONTEXT)]
        assert await llm.ainvoke(PROMPT) == "Snow falls in winter."
        assert len(await embeddings.aembed_documents(["a", "b", "c"])) == 3
        assert Path(await image.ainvoke({"prompt": "a boat"})).exists()
        paths = [entry["path"] for entry in server.journal()]
        assert paths.count(LOGIN) == 1 and paths[0] == LOGIN  # the shared client's one login, nobody else's
        assert len(paths) == 1 + 2 + 1 + 2 + 1
    assert shared.closed


async def test_shared_sync_client_alone_serves_the_async_calls_too(server: LocalServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Given only ``client=``, the async calls use an AsyncClient with that client's settings."""
    monkeypatch.delenv("INDOX_ROUTER_API_KEY", raising=False)
    monkeypatch.delenv("INDOX_ROUTER_BASE_URL", raising=False)
    shared = Client(api_key=server.api_key, base_url=server.base_url, timeout=(2, 7), max_retries=1)
    try:
        chat = ChatIndox(model="openai/gpt-4o-mini", client=shared)
        embeddings = IndoxEmbeddings(model="openai/text-embedding-3-small", client=shared)
        assert (await chat.ainvoke(CONTEXT)).content == "The Amazon carries the most water."
        assert len(await embeddings.aembed_query("x")) > 0
        made = await chat._aindox_client()
        assert isinstance(made, AsyncClient) and made.api_root == shared.api_root
        assert (made.timeout, made.max_retries) == (shared.timeout, shared.max_retries) == ((2, 7), 1)
    finally:
        shared.close()


async def test_async_call_without_a_key_raises_authentication_error(monkeypatch: pytest.MonkeyPatch,
                                                                    dead_url: str) -> None:
    monkeypatch.delenv("INDOX_ROUTER_API_KEY", raising=False)
    chat = ChatIndox(model="openai/gpt-4o-mini", base_url=dead_url)
    with pytest.raises(AuthenticationError):
        await chat.ainvoke("Hi")
    with pytest.raises(AuthenticationError):
        await IndoxEmbeddings(base_url=dead_url).aembed_query("Hi")


async def test_async_state_stays_out_of_pickles_dumps_and_repr(server: LocalServer) -> None:
    secret = server.api_key
    chat = ChatIndox(model="openai/gpt-4o-mini", api_key=secret, base_url=server.base_url)
    await chat.ainvoke("Hi")  # its async client and the loop's keeper now exist
    copy = pickle.loads(pickle.dumps(chat))
    assert (await copy.ainvoke(CONTEXT)).content == (await chat.ainvoke(CONTEXT)).content
    pickled = pickle.dumps(chat)
    assert b"httpx" not in pickled and b"_async_client" not in pickled  # no client, pool or lock travels
    async with AsyncClient(api_key=secret, base_url=server.base_url) as shared:
        with_shared = ChatIndox(model="openai/gpt-4o-mini", async_client=shared)
        text = dumps(with_shared)
        assert "async_client" not in json.loads(text)["kwargs"] and secret not in text
        assert "async_client" not in repr(with_shared) and "AsyncClient" not in repr(with_shared)
        assert secret not in repr(chat) and secret not in json.dumps(chat.model_dump(mode="json"))
        assert "async_client" not in with_shared.model_dump()
        with pytest.raises(TypeError):  # an explicitly shared client is never pickled along
            pickle.dumps(with_shared)
