"""``AsyncClient`` over real HTTP: every method, streams, the same errors and retries as ``Client``,
one login for many tasks, cancellation, and no thread per call."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from indox_server import LocalServer
from shared_client import (
    AsyncClient,
    AuthenticationError,
    ChatResponse,
    Client,
    IndoxRouterError,
    NetworkError,
    StreamChunk,
)

from ..helpers import CountingExecutor

MODEL = "openai/gpt-4o-mini"
ASK = [{"role": "user", "content": "Owls hunt at night in quiet forests. Larks sing at dawn. When do owls hunt?"}]


@pytest.fixture
async def aclient(server: LocalServer, sleeps: list[float]) -> AsyncIterator[AsyncClient]:
    async def record(delay: float) -> None:
        sleeps.append(delay)

    async with AsyncClient(api_key=server.api_key, base_url=server.base_url) as made:
        made._sleep = record  # the retry waits, recorded instead of slept
        yield made


def posts(server: LocalServer, path: str) -> list[dict[str, Any]]:
    return [e for e in server.journal() if e["method"] == "POST" and e["path"].endswith(path)]


async def test_every_method_answers_as_the_sync_client_does(aclient: AsyncClient, client: Client) -> None:
    answer = await aclient.chat(ASK, model=MODEL)
    assert isinstance(answer, ChatResponse) and answer.data == client.chat(ASK, model=MODEL).data
    done = await aclient.completion("Snow falls in winter. When does snow fall?", model="anthropic/claude-3-haiku")
    assert done.data == "Snow falls in winter."
    vectors = await aclient.embeddings(["a", "b"], model="openai/text-embedding-3-small")
    assert vectors.data == client.embeddings(["a", "b"], model="openai/text-embedding-3-small").data
    images = await aclient.image("a red owl", model="openai/dall-e-3", n=2, response_format="b64_json")
    assert len(images.data) == 2
    assert await aclient.providers() == client.providers()
    assert await aclient.models("openai") == client.models("openai")
    assert (await aclient.model_info("openai", "gpt-4o-mini")).name == "gpt-4o-mini"
    assert set(await aclient.get_usage()) == set(client.get_usage())
    assert await aclient.get_user_info() == client.get_user_info()


async def test_streams_yield_the_sync_clients_chunks(aclient: AsyncClient, client: Client) -> None:
    chunks = await aclient.chat(ASK, model=MODEL, stream=True, return_generator=True)
    received = [chunk async for chunk in chunks]
    expected = list(client.chat(ASK, model=MODEL, stream=True, return_generator=True))
    assert all(isinstance(c, StreamChunk) for c in received)
    assert [c.data for c in received] == [c.data for c in expected]
    assert received[-1].usage and expected[-1].usage and received[-1].request_id
    assert received[-1].usage.tokens_total == expected[-1].usage.tokens_total
    whole = await aclient.completion("Snow falls in winter. When does snow fall?", model="anthropic/claude-3-haiku",
                                     stream=True)
    assert whole.data == "Snow falls in winter." and whole.usage.tokens_total > 0


# The same server answers, to both clients: the same exception (or answer) and the same requests sent.
FAULTS: dict[str, list[dict[str, Any]]] = {
    "503 then answer": [{"kind": "respond", "status": 503, "count": 1}],
    "503 thrice": [{"kind": "respond", "status": 503, "count": 3}],
    "429 over the cap": [{"kind": "respond", "status": 429, "headers": {"Retry-After": "61"}}],
    "404 model": [{"kind": "respond", "status": 404, "body": {"detail": "Model 'openai/x' was not found."}}],
    "422 list": [{"kind": "respond", "status": 422, "body": {"detail": [{"loc": ["body", "x"], "msg": "bad"}]}}],
    "html 502": [{"kind": "respond", "status": 502, "body": "<html>bad gateway</html>", "count": 3}],
    "dropped": [{"kind": "drop"}],
    "unreadable 200": [{"kind": "respond", "status": 200, "body": "not json", "content_type": "application/json"}],
}


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "answer", call()
    except IndoxRouterError as error:
        return type(error).__name__, (error.status_code, error.error_type, "may have been processed" in str(error))


@pytest.mark.parametrize("fault", FAULTS)
async def test_errors_and_retries_equal_the_sync_clients(aclient: AsyncClient, client: Client, server: LocalServer,
                                                          sleeps: list[float], fault: str) -> None:
    outcomes, sent = [], []
    for run in ("sync", "async"):
        await aclient.models()
        client.models()
        server.clear_journal()
        sleeps.clear()
        for spec in FAULTS[fault]:
            server.inject_fault(path="/chat/completions", **spec)
        if run == "sync":
            outcome = await asyncio.to_thread(_outcome, lambda: client.chat(ASK, model=MODEL).data)
        else:
            try:
                outcome = "answer", (await aclient.chat(ASK, model=MODEL)).data
            except IndoxRouterError as error:
                outcome = type(error).__name__, (error.status_code, error.error_type,
                                                 "may have been processed" in str(error))
        outcomes.append(outcome)
        sent.append(([e["body"] for e in posts(server, "/chat/completions")], len(sleeps)))
        server.clear_faults()
    assert outcomes[0] == outcomes[1]
    assert sent[0] == sent[1]


async def test_a_repeat_is_the_first_request_byte_for_byte(aclient: AsyncClient, server: LocalServer,
                                                           sleeps: list[float]) -> None:
    await aclient.models()
    server.clear_journal()
    server.inject_fault("respond", path="/embeddings", status=503, count=1)
    server.inject_fault("respond", path="/chat/completions", status=502, count=1)
    await aclient.embeddings(["a", "b"], model="openai/text-embedding-3-small")
    chunks = await aclient.chat(ASK, model=MODEL, stream=True, return_generator=True)
    assert [c async for c in chunks]
    for path in ("/embeddings", "/chat/completions"):
        first, repeat = posts(server, path)
        assert first["body"] == repeat["body"]
    assert len(sleeps) == 2


async def test_an_expired_session_is_renewed_once_and_refused_keys_raise(aclient: AsyncClient,
                                                                         server: LocalServer) -> None:
    await aclient.models()
    server.expire_tokens()
    server.clear_journal()
    assert await aclient.chat(ASK, model=MODEL)
    assert [e["path"] for e in server.journal()] == ["/api/v1/chat/completions", "/api/v1/auth/api-key",
                                                     "/api/v1/chat/completions"]
    async with AsyncClient(api_key="wrong", base_url=server.base_url) as refused:
        with pytest.raises(AuthenticationError, match="INDOX_ROUTER_API_KEY"):
            await refused.models()


async def test_sixty_four_concurrent_first_calls_share_one_login(server: LocalServer) -> None:
    server.clear_journal()
    async with AsyncClient(api_key=server.api_key, base_url=server.base_url) as fresh:
        answers = await asyncio.gather(*(fresh.chat(ASK, model=MODEL) for _ in range(64)))
    assert len(answers) == 64
    paths = [e["path"] for e in server.journal()]
    assert paths.count("/api/v1/auth/api-key") == 1 and paths.count("/api/v1/chat/completions") == 64


async def test_a_stream_cancelled_midway_releases_its_connection(aclient: AsyncClient, server: LocalServer) -> None:
    server.inject_fault("stream_delay", path="/chat/completions", delay=0.05, count=100)
    started = asyncio.Event()

    async def read() -> None:
        chunks = await aclient.chat(ASK, model=MODEL, stream=True, return_generator=True)
        async for _ in chunks:
            started.set()

    task = asyncio.create_task(read())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    server.clear_faults()
    pool = aclient._transport.client._transport  # type: ignore[attr-defined]
    assert all(not c.is_available() or c.is_idle() for c in pool.connections)  # none left mid-answer
    assert (await aclient.chat(ASK, model=MODEL)).data  # and the client carries on


async def test_break_and_aclose_release_the_connection(aclient: AsyncClient, server: LocalServer) -> None:
    server.inject_fault("stream_delay", path="/chat/completions", delay=0.02, count=100)
    async with await aclient.stream_chat(ASK, model=MODEL) as chunks:
        async for _ in chunks:
            break
    chunks = await aclient.stream_chat(ASK, model=MODEL)
    await chunks.__anext__()
    await chunks.aclose()
    with pytest.raises(StopAsyncIteration):
        await chunks.__anext__()
    server.clear_faults()
    assert (await aclient.chat(ASK, model=MODEL)).data


async def test_finished_streams_reuse_one_connection(aclient: AsyncClient) -> None:
    for _ in range(5):
        await aclient.chat(ASK, model=MODEL, stream=True)
    pool = aclient._transport.client._transport  # type: ignore[attr-defined]
    assert len(pool.connections) == 1


async def test_done_ends_the_iteration_though_the_server_lingers(aclient: AsyncClient, server: LocalServer) -> None:
    server.inject_fault("sse_style", path="/chat/completions", linger=3.0)
    started = time.perf_counter()
    chunks = await aclient.chat(ASK, model=MODEL, stream=True, return_generator=True)
    assert "".join([c.data async for c in chunks])
    assert time.perf_counter() - started < 0.4


async def test_a_post_that_broke_after_sending_is_not_repeated(aclient: AsyncClient, server: LocalServer,
                                                               sleeps: list[float]) -> None:
    await aclient.models()
    server.clear_journal()
    server.inject_fault("drop", path="/chat/completions")
    with pytest.raises(NetworkError, match="may have been processed") as caught:
        await aclient.chat(ASK, model=MODEL)
    assert caught.value.__cause__ is not None and len(posts(server, "/chat/completions")) == 1 and sleeps == []


async def test_after_aclose_calls_raise(server: LocalServer) -> None:
    made = AsyncClient(api_key=server.api_key, base_url=server.base_url)
    chunks = await made.chat(ASK, model=MODEL, stream=True, return_generator=True)
    await made.aclose()
    with pytest.raises(IndoxRouterError, match="closed"):
        await made.models()
    with pytest.raises(IndoxRouterError):
        async for _ in chunks:
            pass


async def test_no_call_uses_the_loops_executor(aclient: AsyncClient) -> None:
    await aclient.chat(ASK, model=MODEL)  # the first connection: its address lookup may use a thread
    executor = CountingExecutor()
    asyncio.get_running_loop().set_default_executor(executor)
    await asyncio.gather(*(aclient.chat(ASK, model=MODEL) for _ in range(8)))
    for _ in range(8):
        await aclient.chat(ASK, model=MODEL)
        chunks = await aclient.chat(ASK, model=MODEL, stream=True, return_generator=True)
        assert [c async for c in chunks]
        await aclient.embeddings(["a"], model="openai/text-embedding-3-small")
    assert executor.submitted == 0


def test_the_constructor_matches_the_sync_clients() -> None:
    import inspect

    sync, made = inspect.signature(Client.__init__), inspect.signature(AsyncClient.__init__)
    names = [p for p in sync.parameters if p != "pool_maxsize"]
    assert list(made.parameters) == names
    assert all(made.parameters[n].default == sync.parameters[n].default for n in names)
    for name in ("chat", "completion", "embeddings", "image", "providers", "models", "model_info", "get_usage",
                 "get_user_info"):
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name))
        assert list(inspect.signature(getattr(AsyncClient, name)).parameters) == list(
            inspect.signature(getattr(Client, name)).parameters)


def test_wire_bodies_are_the_same_for_both_clients(server: LocalServer, client: Client) -> None:
    async def send() -> None:
        async with AsyncClient(api_key=server.api_key, base_url=server.base_url) as made:
            await made.chat(ASK, model=MODEL, top_p=0.5, byok_api_key="sk-own")

    client.chat(ASK, model=MODEL, top_p=0.5, byok_api_key="sk-own")
    asyncio.run(send())
    sync_body, async_body = (json.loads(e["body"]) for e in posts(server, "/chat/completions")[-2:])
    assert sync_body == async_body


async def test_idle_connections_expire_before_a_five_second_server_closes_them(aclient: AsyncClient) -> None:
    """uvicorn (and many proxies) close a connection idle for 5 s; a POST sent on it in that moment
    fails and may not be repeated. The client lets idle connections go after 4 s instead."""
    await aclient.chat(ASK, model=MODEL)
    pool = aclient._transport.client._transport  # type: ignore[attr-defined]
    (first,) = pool.connections
    await asyncio.sleep(4.2)
    await aclient.chat(ASK, model=MODEL)
    assert first not in pool.connections and len(pool.connections) == 1


async def test_concurrent_streams_find_their_connections_again(aclient: AsyncClient, server: LocalServer) -> None:
    """64 concurrent streams, then 64 more: the second burst runs on the first one's connections
    (httpcore's pool closed all but 20 of them and reconnected the rest every time)."""
    server.inject_fault("stream_delay", path="/chat/completions", delay=0.05, count=2 * 64 * 20)  # all overlap

    async def read() -> int:
        chunks = await aclient.chat(ASK, model=MODEL, stream=True, return_generator=True)
        return len([chunk async for chunk in chunks])

    pool = aclient._transport.client._transport  # type: ignore[attr-defined]
    assert all(await asyncio.gather(*(read() for _ in range(64))))
    first = set(pool.connections)
    assert len(first) == 64 and all(c.is_idle() for c in first)
    assert all(await asyncio.gather(*(read() for _ in range(64))))
    assert set(pool.connections) == first
