"""The async comparisons (issue 12): many concurrent calls on one event loop, ours against the peers.

Run by ``run.py`` (``--only async``). Everything runs inside one event loop, as a
service would: the peers' async clients belong to the loop that made them. Each
round runs every contender once, in rotating order; the tables give medians.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

MODEL = "openai/gpt-4o-mini"
EMBED_MODEL = "openai/text-embedding-3-small"
QUESTION = "Owls hunt at night in quiet forests. Larks sing at dawn. When do owls hunt?"


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, counting what is sent to it (a thread per call would show here)."""

    def __init__(self) -> None:
        super().__init__(max_workers=8)
        self.submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.submitted += 1
        return super().submit(*args, **kwargs)


async def _measure(fn: Callable[[], Awaitable[Any]], executor: CountingExecutor) -> tuple[float, float, int]:
    """Wall seconds, client CPU seconds and executor submissions of one run of ``fn``."""
    before = executor.submitted
    cpu, wall = time.process_time(), time.perf_counter()
    await fn()
    return time.perf_counter() - wall, time.process_time() - cpu, executor.submitted - before


async def _rounds(contenders: dict[str, Callable[[], Awaitable[Any]]], rounds: int,
                  executor: CountingExecutor) -> dict[str, list[tuple[float, float, int]]]:
    for fn in contenders.values():  # warm-up: connections, logins, imports
        await fn()
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_ in range(rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            results[name].append(await _measure(contenders[name], executor))
    return results


def _med(values: list[float]) -> float:
    return statistics.median(values)


def _rows(results: dict[str, list[tuple[float, float, int]]], baseline: str, calls: int) -> list[list[str]]:
    base_wall = _med([r[0] for r in results[baseline]])
    base_cpu = _med([r[1] for r in results[baseline]])
    rows = []
    for name, runs in results.items():
        wall, cpu = _med([r[0] for r in runs]), _med([r[1] for r in runs])
        executor_per_call = max(r[2] for r in runs) / calls
        rows.append([name, f"{wall:.2f} s", f"{wall / base_wall:.2f}", f"{cpu:.2f} s", f"{cpu / base_cpu:.2f}",
                     f"{executor_per_call:g}"])
    return rows


async def _gather(factory: Callable[[], Awaitable[Any]], count: int) -> list[Any]:
    return await asyncio.gather(*(factory() for _ in range(count)))


async def _drain_stream(stream: Any) -> int:
    return sum([1 async for _ in stream])


async def run_async(setup: Any, size: dict[str, int], report: Any, documents: list[str]) -> None:
    from langchain_openai import ChatOpenAI, OpenAIEmbeddings
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

    from langchain_indox import ChatIndox as LangChainIndox
    from langchain_indox import IndoxEmbeddings
    from llamaindex_indox import ChatIndox as LlamaIndexIndox

    executor = CountingExecutor()
    asyncio.get_running_loop().set_default_executor(executor)
    server, rounds = setup.server, size["async_rounds"]
    concurrency, delay = size["async_calls"], size["async_delay"]
    common = {"api_key": setup.key, "base_url": setup.base, "timeout": 60}  # default retries, as users run them

    ours = LangChainIndox(model=MODEL, **common)
    peer = ChatOpenAI(model="gpt-4o-mini", api_key=setup.key, base_url=setup.facade, timeout=60)
    llama_ours = LlamaIndexIndox(model=MODEL, **common)
    llama_peer = OpenAILike(model="gpt-4o-mini", api_key=setup.key, api_base=setup.facade, is_chat_model=True,
                            timeout=60)
    messages = [ChatMessage(role="user", content=QUESTION)]
    server.inject_fault("delay", path="/chat/completions", delay=delay, count=10**6)
    try:
        results = await _rounds({
            "ChatOpenAI.ainvoke": lambda: _gather(lambda: peer.ainvoke(QUESTION), concurrency),
            "ChatIndox.ainvoke": lambda: _gather(lambda: ours.ainvoke(QUESTION), concurrency),
        }, rounds, executor)
        _table(report, f"Async: {concurrency} concurrent LangChain ainvoke, the model answers in {delay:g} s",
               results, "ChatOpenAI.ainvoke", concurrency, "Goal: ChatIndox wall ≤ 1.10× ChatOpenAI.")
        results = await _rounds({
            "OpenAILike.achat": lambda: _gather(lambda: llama_peer.achat(messages), concurrency),
            "ChatIndox.achat": lambda: _gather(lambda: llama_ours.achat(messages), concurrency),
        }, rounds, executor)
        _table(report, f"Async: {concurrency} concurrent LlamaIndex achat, the model answers in {delay:g} s",
               results, "OpenAILike.achat", concurrency, "Goal: ChatIndox wall ≤ 1.10× OpenAILike.")
    finally:
        server.clear_faults()

    streams, gap = size["async_streams"], size["async_gap"]
    server.inject_fault("stream_delay", path="/chat/completions", delay=gap, count=10**6)
    try:
        results = await _rounds({
            "ChatOpenAI.astream": lambda: _gather(lambda: _drain_stream(peer.astream(QUESTION)), streams),
            "ChatIndox.astream": lambda: _gather(lambda: _drain_stream(ours.astream(QUESTION)), streams),
        }, rounds, executor)
        _table(report, f"Async: {streams} concurrent LangChain astream, {gap * 1000:g} ms between events",
               results, "ChatOpenAI.astream", streams,
               "Goals: ChatIndox client CPU ≤ 0.75×, wall ≤ 1.10× ChatOpenAI.")
    finally:
        server.clear_faults()

    lc_ours = IndoxEmbeddings(model=EMBED_MODEL, dimensions=256, **common)
    lc_peer = OpenAIEmbeddings(model="text-embedding-3-small", dimensions=256, api_key=setup.key,
                               base_url=setup.facade)
    results = await _rounds({
        "OpenAIEmbeddings.aembed_documents": lambda: lc_peer.aembed_documents(documents),
        "IndoxEmbeddings.aembed_documents": lambda: lc_ours.aembed_documents(documents),
    }, rounds, executor)
    base = _med([r[0] for r in results["OpenAIEmbeddings.aembed_documents"]])
    rows = [[name, f"{len(documents) / _med([r[0] for r in runs]):,.0f}",
             f"{base / _med([r[0] for r in runs]):.2f}", f"{_med([r[1] for r in runs]):.2f} s",
             f"{max(r[2] for r in runs) / 1:g}"] for name, runs in results.items()]
    report.table(f"Async embeddings: {len(documents):,} documents, aembed_documents",
                 ["contender", "documents/s", "speed ratio", "client CPU", "executor tasks per call"], rows,
                 "Goal: IndoxEmbeddings documents/s ≥ 1.5× OpenAIEmbeddings (both with their defaults).")


def _table(report: Any, title: str, results: dict[str, list[tuple[float, float, int]]], baseline: str,
           calls: int, note: str) -> None:
    report.table(title, ["contender", "wall", "ratio", "client CPU", "ratio", "executor tasks per call"],
                 _rows(results, baseline, calls), note)
