"""``LazyAsyncClient``: one ``AsyncClient`` per event loop and settings, closed with its loop,
never shared across loops, and not tied to the life of the object that asked for it."""

from __future__ import annotations

import asyncio
import gc
import os
import pickle
import subprocess
import sys
import warnings

from indox_server import LocalServer
from shared_client import AsyncClient, Client
from shared_client.integration import LazyAsyncClient

ASK = [{"role": "user", "content": "Owls hunt at night. When do owls hunt?"}]


def test_each_asyncio_run_gets_its_own_client_closed_with_its_loop(server: LocalServer) -> None:
    lazy = LazyAsyncClient()
    made: list[AsyncClient] = []

    async def call() -> str:
        client = await lazy.get(async_client=None, api_key=server.api_key, base_url=server.base_url,
                                timeout=15, max_retries=2)
        made.append(client)
        return (await client.chat(ASK, model="openai/gpt-4o-mini")).data

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        assert asyncio.run(call()) == asyncio.run(call()) == "Owls hunt at night."
        gc.collect()
    assert made[0] is not made[1]
    assert made[0].closed and made[1].closed  # each closed as its loop shut down


def test_objects_with_the_same_settings_share_one_client_per_loop(server: LocalServer) -> None:
    async def call() -> None:
        first, second, other = LazyAsyncClient(), LazyAsyncClient(), LazyAsyncClient()
        settings = {"async_client": None, "api_key": server.api_key, "base_url": server.base_url, "max_retries": 2}
        one = await first.get(timeout=15, **settings)
        assert one is await second.get(timeout=15, **settings)  # one session, one pool
        assert one is not await other.get(timeout=5, **settings)

    asyncio.run(call())


def test_a_shared_sync_client_gives_its_settings_to_the_async_twin(server: LocalServer) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url, timeout=7, max_retries=1) as shared:
        async def call() -> AsyncClient:
            return await LazyAsyncClient().get(async_client=None, api_key=None, base_url=None, timeout=None,
                                               max_retries=0, client=shared)

        twin = asyncio.run(call())
    assert (twin.base_url, twin.timeout, twin.max_retries) == (shared.base_url, 7, 1)


def test_a_given_async_client_is_used_as_it_is(server: LocalServer) -> None:
    async def call() -> None:
        async with AsyncClient(api_key=server.api_key, base_url=server.base_url) as shared:
            got = await LazyAsyncClient().get(async_client=shared, api_key=None, base_url=None, timeout=None,
                                              max_retries=0)
            assert got is shared

    asyncio.run(call())


DROPPED = """
import asyncio, gc, os
from shared_client.integration import LazyAsyncClient

async def main():
    lazy = LazyAsyncClient()
    client = await lazy.get(async_client=None, api_key=os.environ["KEY"], base_url=os.environ["URL"],
                            timeout=15, max_retries=2)
    ask = [{"role": "user", "content": "Hi"}]
    await asyncio.gather(*(client.chat(ask, model="openai/gpt-4o-mini") for _ in range(4)))  # a few connections
    del lazy, client
    gc.collect()  # the asking object is gone while the loop still runs
    await asyncio.sleep(0.05)

asyncio.run(main())
gc.collect()
print("ok")
"""


def test_an_object_dropped_while_its_loop_runs_leaves_no_socket_open(server: LocalServer) -> None:
    env = {**os.environ, "KEY": server.api_key, "URL": server.base_url}
    done = subprocess.run([sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", DROPPED],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
    assert "ResourceWarning" not in done.stderr and "unclosed" not in done.stderr, done.stderr[-2000:]


def test_it_pickles_empty() -> None:
    assert repr(pickle.loads(pickle.dumps(LazyAsyncClient()))) == "LazyAsyncClient()"
