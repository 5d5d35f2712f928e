"""``AsyncClient`` on uvloop, the event loop many services run (``uvicorn[standard]`` brings it):
its transports are not ``asyncio.Transport`` subclasses, and its TLS is its own."""

from __future__ import annotations

import asyncio

import httpx
import uvloop  # in the [dev] extra

from indox_server import LocalServer
from shared_client import AsyncClient
from shared_client._async_transport import LIMITS
from shared_client._direct_transport import DirectTransport

from .raw_http import answer, raw_server, server_tls

MODEL = "openai/gpt-4o-mini"
ASK = [{"role": "user", "content": "Owls hunt at night in quiet forests. Larks sing at dawn. When do owls hunt?"}]


def test_every_kind_of_call_on_uvloop(server: LocalServer) -> None:
    async def main() -> tuple[str, int, int, int, bool]:
        assert "uvloop" in type(asyncio.get_running_loop()).__module__
        async with AsyncClient(api_key=server.api_key, base_url=server.base_url) as client:
            answer = (await client.chat(ASK, model=MODEL)).data
            chunks = await client.chat(ASK, model=MODEL, stream=True, return_generator=True)
            streamed = len([chunk async for chunk in chunks])
            vectors = await client.embeddings(["a text"] * 5000, model="openai/text-embedding-3-small")
            answers = await asyncio.gather(*(client.chat(ASK, model=MODEL) for _ in range(32)))
            cut = await client.chat(ASK, model=MODEL, stream=True, return_generator=True)
            async for _ in cut:
                break
            await cut.aclose()
            still = bool((await client.chat(ASK, model=MODEL)).data)
        return answer, streamed, len(vectors.data), len(answers), still

    answer, streamed, vectors, answers, still = uvloop.run(main())
    assert answer == "Owls hunt at night in quiet forests."
    assert streamed > 2 and vectors == 5000 and answers == 32 and still


def test_tls_on_uvloop(no_proxy: None, trust_test_cert: None) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: reading pauses and resumes

    async def main() -> list[bool]:
        async with raw_server(answer(body), server_tls()) as (_, url), \
                httpx.AsyncClient(transport=DirectTransport(LIMITS)) as client:
            return [(await client.get(url)).content == body for _ in range(3)]

    assert uvloop.run(main()) == [True] * 3

