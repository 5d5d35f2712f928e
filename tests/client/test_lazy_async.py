"""``LazyAsyncClient``: one ``AsyncClient`` per event loop, closed with its loop, never shared across loops."""

from __future__ import annotations

import asyncio
import pickle
import warnings

from indox_server import LocalServer
from shared_client import AsyncClient
from shared_client.integration import LazyAsyncClient

ASK = [{"role": "user", "content": "Owls hunt at night. When do owls hunt?"}]


def test_each_asyncio_run_gets_its_own_client_closed_with_its_loop(server: LocalServer) -> None:
    lazy = LazyAsyncClient()
    made: list[AsyncClient] = []

    async def call() -> str:
        client = await lazy.get(async_client=None, api_key=server.api_key, base_url=server.base_url,
                                timeout=15, max_retries=2)
        assert client is await lazy.get(async_client=None, api_key=server.api_key, base_url=server.base_url,
                                        timeout=15, max_retries=2)  # one per loop
        made.append(client)
        return (await client.chat(ASK, model="openai/gpt-4o-mini")).data

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        assert asyncio.run(call()) == asyncio.run(call()) == "Owls hunt at night."
    assert made[0] is not made[1]
    assert made[0].closed and made[1].closed  # each closed as its loop shut down


def test_a_given_async_client_is_used_as_it_is(server: LocalServer) -> None:
    async def call() -> None:
        async with AsyncClient(api_key=server.api_key, base_url=server.base_url) as shared:
            got = await LazyAsyncClient().get(async_client=shared, api_key=None, base_url=None, timeout=None,
                                              max_retries=0)
            assert got is shared

    asyncio.run(call())


def test_it_pickles_empty(server: LocalServer) -> None:
    lazy = LazyAsyncClient()

    async def call() -> None:
        await lazy.get(async_client=None, api_key=server.api_key, base_url=server.base_url, timeout=15,
                       max_retries=2)
        assert "loops=1" in repr(lazy)
        assert "loops=0" in repr(pickle.loads(pickle.dumps(lazy)))

    asyncio.run(call())
