"""The async twins on ``AsyncClient``: the same results as the sync path, no thread per call,
one client per event loop (or the shared ``async_client``), real concurrency, clean cancellation."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import pickle
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from indox_server import LocalServer
from llamaindex_indox import ChatIndox, IndoxEmbeddings, IndoxImageToolSpec, IndoxLLM
from llamaindex_indox import llms as llms_module
from shared_client import AsyncClient, Client

from ..helpers import CountingExecutor

CONTEXT = "Mercury is the closest planet to the Sun. Neptune is the farthest. Which planet is the farthest?"
ANSWER = "Neptune is the farthest."
USER = [ChatMessage(role="user", content=CONTEXT)]
WORDS = ["red", "green", "blue", "cats", "dogs", "rain", "sun"]
TEXTS = [f"Text number {i} is about {word}." for i, word in enumerate(WORDS)]
LOGIN = "/api/v1/auth/api-key"
VARYING = {"request_id", "latency", "timestamp"}


class SyncForbidden(Client):
    """A sync client whose requests fail the test: given as ``client=``, it proves a call went async."""

    def _forbidden(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the sync client was used on an async path")

    chat = completion = stream_chat = stream_completion = embeddings = image = _forbidden  # type: ignore[assignment]


class SyncForbiddenWithInfo(SyncForbidden):
    model_info = SyncForbidden._forbidden  # type: ignore[assignment]


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


def plain(value: Any) -> Any:
    """A response as comparable data: dumped, without what differs per request (id, timing)."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def connection(server: LocalServer, **extra: Any) -> dict[str, Any]:
    return {"api_key": server.api_key, "base_url": server.base_url, **extra}


@pytest.fixture
def no_sync(server: LocalServer) -> Iterator[Client]:
    client = SyncForbidden(api_key=server.api_key, base_url=server.base_url)
    yield client
    client.close()


@pytest.fixture
def chat_pair(server: LocalServer, no_sync: Client) -> tuple[ChatIndox, ChatIndox]:
    """The same model twice: one for the sync path, one whose sync client may not be used."""
    return ChatIndox(**connection(server)), ChatIndox(**connection(server, client=no_sync))


@pytest.fixture
def completion_pair(server: LocalServer, no_sync: Client) -> tuple[IndoxLLM, IndoxLLM]:
    return IndoxLLM(**connection(server)), IndoxLLM(**connection(server, client=no_sync))


@pytest.fixture
async def shared(server: LocalServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(api_key=server.api_key, base_url=server.base_url) as client:
        yield client


# --- the same results as the sync path ---------------------------------------------------------


@pytest.mark.parametrize("pair", ["chat_pair", "completion_pair"])
async def test_llm_async_entry_points_equal_the_sync_ones(pair: str, request: pytest.FixtureRequest) -> None:
    sync_llm, async_llm = request.getfixturevalue(pair)
    assert plain(await async_llm.achat(USER)) == plain(sync_llm.chat(USER))
    assert plain(await async_llm.acomplete(CONTEXT)) == plain(sync_llm.complete(CONTEXT))
    streamed = [plain(r) async for r in await async_llm.astream_chat(USER)]
    assert len(streamed) > 3 and streamed == [plain(r) for r in sync_llm.stream_chat(USER)]
    assert streamed[-1]["message"]["blocks"][0]["text"] == ANSWER
    completed = [plain(r) async for r in await async_llm.astream_complete(CONTEXT)]
    assert len(completed) > 3 and completed == [plain(r) for r in sync_llm.stream_complete(CONTEXT)]
    assert completed[-1]["text"] == ANSWER and completed[-1]["raw"]["usage"]["completion_tokens"] == 5


async def test_async_tool_calls_equal_the_sync_ones(chat_pair: tuple[ChatIndox, ChatIndox]) -> None:
    sync_llm, async_llm = chat_pair
    tool = FunctionTool.from_defaults(fn=add)
    answer = await async_llm.achat_with_tools([tool], "Please add 2 and 40.")
    assert plain(answer) == plain(sync_llm.chat_with_tools([tool], "Please add 2 and 40."))
    (call,) = async_llm.get_tool_calls_from_response(answer)
    assert (call.tool_name, call.tool_kwargs) == ("add", {"a": 2, "b": 40})
    streamed = [plain(r) async for r in await async_llm.astream_chat_with_tools([tool], "Please add 2 and 40.")]
    assert streamed == [plain(r) for r in sync_llm.stream_chat_with_tools([tool], "Please add 2 and 40.")]


async def test_async_embeddings_equal_the_sync_ones(server: LocalServer, no_sync: Client) -> None:
    sync_embed = IndoxEmbeddings(**connection(server, embed_batch_size=2))
    async_embed = IndoxEmbeddings(**connection(server, embed_batch_size=2, client=no_sync))
    assert await async_embed.aget_query_embedding("cats") == sync_embed.get_query_embedding("cats")
    assert await async_embed.aget_text_embedding("dogs") == sync_embed.get_text_embedding("dogs")
    expected = sync_embed.get_text_embedding_batch(TEXTS)
    assert len(expected) == len(TEXTS) and len(set(map(tuple, expected))) == len(TEXTS)
    assert await async_embed.aget_text_embedding_batch(TEXTS) == expected
    server.clear_journal()
    server.inject_fault("delay", path="/embeddings", delay=0.2, count=1)  # the first batch answers last
    assert await async_embed._aget_text_embeddings(TEXTS) == expected  # split by embed_batch_size itself
    assert [entry["path"] for entry in server.journal()].count("/api/v1/embeddings") == 4
    assert await async_embed._aget_text_embeddings([]) == []


async def test_async_embedding_batches_in_flight_are_capped(shared: AsyncClient, server: LocalServer) -> None:
    in_flight, most = 0, 0
    real = shared.embeddings

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await real(*args, **kwargs)
        finally:
            in_flight -= 1

    shared.embeddings = counting  # type: ignore[method-assign]
    embed = IndoxEmbeddings(**connection(server, embed_batch_size=1, num_workers=3, async_client=shared))
    server.inject_fault("delay", path="/embeddings", delay=0.05, count=len(TEXTS))
    vectors = await embed._aget_text_embeddings(TEXTS)
    assert most == 3 and len(vectors) == len(TEXTS)
    assert vectors == [await embed.aget_text_embedding(text) for text in TEXTS]


async def test_async_image_tool_equals_the_sync_one(server: LocalServer, no_sync: Client, tmp_path: Path) -> None:
    settings = {"size": "16x16", "image_format": "b64_json", "output_dir": tmp_path, "n": 2}
    (sync_tool,) = IndoxImageToolSpec(**settings, **connection(server)).to_tool_list()
    (async_tool,) = IndoxImageToolSpec(**settings, **connection(server, client=no_sync)).to_tool_list()
    expected = sync_tool.call(prompt="a moon").content
    for line in expected.splitlines():
        Path(line).unlink()  # for the async call to write again
    assert (await async_tool.acall(prompt="a moon")).content == expected
    assert all(Path(line).read_bytes()[:4] == b"\x89PNG" for line in expected.splitlines())
    url = (await IndoxImageToolSpec(size="16x16", **connection(server, client=no_sync)).agenerate_image("a sun"))
    assert isinstance(url, str) and url.startswith(server.base_url)


async def test_astructured_predict_reads_the_catalogue_asynchronously(server: LocalServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llms_module, "_INFO_CACHE", {})  # so the catalogue is really asked
    no_sync = SyncForbiddenWithInfo(api_key=server.api_key, base_url=server.base_url)
    llm = ChatIndox(**connection(server, client=no_sync))

    class City(BaseModel):
        name: str
        population: int

    server.clear_journal()
    city = await llm.astructured_predict(City, PromptTemplate("The city name is {c} with {n} people."),
                                         c="Lille", n="236000")
    assert city == City(name="Lille", population=236000)
    paths = [entry["path"] for entry in server.journal()]
    assert "/api/v1/models/openai/gpt-4o-mini" in paths
    sent = json.loads(server.journal()[-1]["body"])
    assert sent["additional_params"]["response_format"]["type"] == "json_schema"
    no_sync.close()


# --- event loops, agents, executors ------------------------------------------------------------


def test_two_asyncio_runs_on_one_object(server: LocalServer) -> None:
    llm = ChatIndox(**connection(server))
    embed = IndoxEmbeddings(**connection(server))

    async def run() -> tuple[str, str, AsyncClient]:
        answer = await llm.achat(USER)
        streamed = [r.delta or "" async for r in await llm.astream_chat(USER)]
        await embed.aget_query_embedding("cats")
        return answer.message.content or "", "".join(streamed), await llm.aindox_client()

    gc.collect()  # what earlier tests left is theirs: from here on, a ResourceWarning is an error
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        first = asyncio.run(run())
        second = asyncio.run(run())
        gc.collect()
    assert first[:2] == second[:2] == (ANSWER, ANSWER)
    assert first[2] is not second[2]  # a client of its own for each loop ...
    assert first[2].closed and second[2].closed  # ... closed as its loop shut down


DROPPED_INSIDE_THE_LOOP = """
import asyncio, gc, os
from llamaindex_indox import IndoxEmbeddings

async def run():
    embed = IndoxEmbeddings(api_key=os.environ["KEY"], base_url=os.environ["URL"], embed_batch_size=2)
    assert len(await embed._aget_text_embeddings(["a", "b", "c", "d", "e", "f", "g"])) == 7

asyncio.run(run())  # the object is gone before its loop shuts down
gc.collect()
"""


def test_an_object_dropped_inside_its_loop_leaves_no_connection_open(server: LocalServer) -> None:
    env = {**os.environ, "KEY": server.api_key, "URL": server.base_url}
    done = subprocess.run([sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", DROPPED_INSIDE_THE_LOOP],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "unclosed" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr


def test_async_use_then_pickle(server: LocalServer) -> None:
    llm = ChatIndox(**connection(server))
    assert asyncio.run(llm.achat(USER)).message.content == ANSWER
    copy = pickle.loads(pickle.dumps(llm))
    assert asyncio.run(copy.achat(USER)).message.content == ANSWER


async def test_function_agent_on_the_async_path(server: LocalServer, no_sync: Client) -> None:
    llm = ChatIndox(**connection(server, client=no_sync))
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(async_fn=_async_add, name="add")], llm=llm)
    handler = agent.run(user_msg="Please add 2 and 40.")
    results = [event async for event in handler.stream_events() if isinstance(event, ToolCallResult)]
    assert str(await handler) == "add returned: 42."
    (result,) = results
    assert (result.tool_name, result.tool_kwargs, result.tool_output.content) == ("add", {"a": 2, "b": 40}, "42")


async def _async_add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


async def test_async_query_over_a_vector_index(server: LocalServer, no_sync: Client) -> None:
    documents = [Document(text="The Eiffel Tower stands in Paris. It was completed in 1889."),
                 Document(text="The Colosseum is an amphitheatre in Rome. Gladiators once fought there.")]
    embed = IndoxEmbeddings(**connection(server, client=no_sync))
    llm = ChatIndox(**connection(server, client=no_sync))
    index = VectorStoreIndex(nodes=[], embed_model=embed)
    await index.ainsert_nodes(SentenceSplitter().get_nodes_from_documents(documents))
    engine = index.as_query_engine(llm=llm, similarity_top_k=1)
    response = await engine.aquery("Where did gladiators fight?")
    assert str(response) == "Gladiators once fought there."
    assert "Rome" in response.source_nodes[0].node.get_content()


async def test_no_executor_is_used(server: LocalServer, tmp_path: Path) -> None:
    chat = ChatIndox(**connection(server))
    completion = IndoxLLM(**connection(server))
    embed = IndoxEmbeddings(**connection(server, embed_batch_size=2))
    (tool,) = IndoxImageToolSpec(size="16x16", image_format="b64_json", output_dir=tmp_path,
                                 **connection(server)).to_tool_list()
    await chat.achat(USER)  # warm-up: the metadata lookups and first connections
    await completion.acomplete(CONTEXT)
    await embed.aget_text_embedding_batch(TEXTS)
    await tool.acall(prompt="warm")
    counting = CountingExecutor(max_workers=1)
    asyncio.get_running_loop().set_default_executor(counting)
    await asyncio.get_running_loop().run_in_executor(None, lambda: None)  # the probe itself counts
    assert counting.submitted == 1
    counting.submitted = 0
    for _ in range(3):
        for llm in (chat, completion):
            assert (await llm.achat(USER)).message.content == ANSWER
            assert (await llm.acomplete(CONTEXT)).text == ANSWER
            assert [r async for r in await llm.astream_chat(USER)][-1].message.content == ANSWER
            assert [r async for r in await llm.astream_complete(CONTEXT)][-1].text == ANSWER
        assert len(await embed.aget_text_embedding_batch(TEXTS)) == len(TEXTS)
        assert len(await embed.aget_query_embedding("cats")) > 0
        assert len(await embed.aget_text_embedding("dogs")) > 0
        assert (await tool.acall(prompt="a moon")).content.endswith(".png")
        await asyncio.gather(*(chat.achat(USER) for _ in range(4)))
    assert counting.submitted == 0


# --- concurrency, cancellation, the shared client ----------------------------------------------


async def test_concurrent_achats_overlap(server: LocalServer) -> None:
    llm = ChatIndox(**connection(server))
    assert (await llm.achat(USER)).message.content == ANSWER  # log in first, as a long-lived app has
    server.inject_fault("delay", path="/chat/completions", delay=0.5, count=32)
    started = time.perf_counter()
    answers = await asyncio.gather(*(llm.achat(USER) for _ in range(32)))
    elapsed = time.perf_counter() - started
    assert [a.message.content for a in answers] == [ANSWER] * 32
    assert server.pending_faults() == []  # every one of them was delayed ...
    assert elapsed < 3  # ... and they waited together (one after the other would take 16 s)


@pytest.mark.parametrize("how", ["cancel", "break"])
async def test_a_stream_left_midway_leaves_the_object_usable(server: LocalServer, how: str) -> None:
    llm = ChatIndox(**connection(server))
    server.inject_fault("stream_delay", path="/chat/completions", delay=0.2, count=1)
    first_seen = asyncio.Event()
    seen: list[str] = []

    async def consume() -> None:
        responses = await llm.astream_chat(USER)
        async for response in responses:
            seen.append(response.delta or "")
            first_seen.set()
            if how == "break" and len(seen) == 2:
                await responses.aclose()  # type: ignore[attr-defined]
                break

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_seen.wait(), 5)
    if how == "cancel":
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        await asyncio.wait_for(task, 5)
    assert 0 < len(seen) < 5
    assert (await llm.achat(USER)).message.content == ANSWER
    assert "".join([r.delta or "" async for r in await llm.astream_chat(USER)]) == ANSWER


async def test_a_shared_async_client_is_used(server: LocalServer, shared: AsyncClient, no_sync: Client,
                                             tmp_path: Path) -> None:
    objects = [ChatIndox(**connection(server, client=no_sync, async_client=shared)),
               IndoxLLM(**connection(server, client=no_sync, async_client=shared)),
               IndoxEmbeddings(**connection(server, client=no_sync, async_client=shared))]
    spec = IndoxImageToolSpec(size="16x16", output_dir=tmp_path, **connection(server, client=no_sync),
                              async_client=shared)
    server.clear_journal()
    await asyncio.gather(*(llm.achat(USER) for llm in objects[:2] for _ in range(3)))
    await objects[2].aget_text_embedding_batch(TEXTS)
    await spec.to_tool_list()[0].acall(prompt="a moon")
    assert [entry["path"] for entry in server.journal()].count(LOGIN) == 1
    for thing in (*objects, spec):
        assert await thing.aindox_client() is shared
    for llm in objects:
        texts = [json.dumps(llm.to_dict(), default=str), llm.to_json(), repr(llm), str(llm)]
        assert all(server.api_key not in text for text in texts)
        assert not {"api_key", "client", "async_client"} & set(llm.to_dict())
    copy = pickle.loads(pickle.dumps(objects[0]))
    assert copy.async_client is None and copy.client is None
    assert pickle.loads(pickle.dumps(spec)).async_client is None
    assert not shared.closed  # a shared client is the caller's to close


async def test_a_shared_sync_client_alone_serves_the_async_methods_too(server: LocalServer, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INDOX_ROUTER_API_KEY", raising=False)
    monkeypatch.delenv("INDOX_ROUTER_BASE_URL", raising=False)
    with Client(api_key=server.api_key, base_url=server.base_url, timeout=7, max_retries=1) as client:
        llm = ChatIndox(client=client)
        spec = IndoxImageToolSpec(size="16x16", output_dir=tmp_path, client=client)
        assert (await llm.achat(USER)).message.content == ANSWER
        assert (await spec.to_tool_list()[0].acall(prompt="a moon")).content.startswith(server.base_url)
        for made in (await llm.aindox_client(), await spec.aindox_client()):
            assert (made.base_url, made.timeout, made.max_retries) == (server.base_url, 7, 1)
