"""indox-integrations against its peers, on the same local server, in the same run.

    python benchmarks/run.py                 # the full run (a few minutes)
    python benchmarks/run.py --size tiny     # a smoke run (seconds), as the test suite does
    python benchmarks/run.py --markdown docs/benchmarks.md

The server runs in its own process; each pair of contenders runs alternately,
round after round, and the tables give medians and ratios against a baseline
measured in the same run. "CPU" is the client process's own CPU time per call
(``time.process_time``), so a slow server cannot hide a slow client; "wall" is
elapsed time. Peers reach the server through its OpenAI-compatible facade.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from indox_server import LocalServer
from shared_client import Client
from shared_client._sse import SSEDecoder

SIZES = {  # rounds, calls per round, embedding documents, stream answer words, threads x calls
    "tiny": {"rounds": 1, "calls": 3, "documents": 300, "words": 20, "threads": 4, "per_thread": 2, "imports": 1,
             "async_rounds": 1, "async_calls": 4, "async_delay": 0.05, "async_streams": 2, "async_gap": 0.001},
    "full": {"rounds": 7, "calls": 60, "documents": 20_000, "words": 120, "threads": 32, "per_thread": 20,
             "imports": 5, "async_rounds": 5, "async_calls": 256, "async_delay": 2.0, "async_streams": 64,
             "async_gap": 0.02},
}
CHAT_MODEL, EMBED_MODEL = "openai/gpt-4o-mini", "openai/text-embedding-3-small"
DIMENSIONS = 256
QUESTION = [{"role": "user", "content": "Owls hunt at night in quiet forests. Larks sing at dawn. When do owls hunt?"}]


MARKDOWN_HEADER = """# Benchmarks

How `shared_client` and the two integrations compare with raw `requests` and
with their peers (the `openai` SDK, langchain-openai, llama-index-llms-openai,
llama-index-embeddings-openai), all against the same local server in one run.
The server runs in its own process; each pair of contenders runs alternately,
round after round; the tables give medians and ratios against a baseline
measured in the same run, because absolute times on a shared machine are not
comparable from run to run. "Client CPU" is the client process's own CPU time
(`time.process_time`), so a slow server cannot hide a slow client. Peers reach
the server through its OpenAI-compatible facade (`/openai/v1`), backed by the
same local models.

Measured {date} on {machine}, size `{size}` ({rounds} rounds), by
`python benchmarks/run.py --markdown {path}` (the `[bench]` extra installs the
peers). Why we are ahead: the client parses each answer once with pydantic and
no intermediate objects, reads SSE straight from the socket with a byte-level
decoder, asks for base64 embeddings and decodes them with `array` in C, and
runs embedding batches concurrently on one connection pool.

The async tables run every contender inside one event loop, as a service would;
"executor tasks per call" counts what each sent to the loop's default executor
(a thread per call would show as 1 or more). Both sides run with their default
retry settings. `AsyncClient` runs on httpx with a connection pool of its own on
asyncio's sockets: on 64 concurrent streams, httpx's default pool (httpcore's,
which scans every connection for each request and reconnects most of them after
each burst) and its anyio network layer took more than half of the client's CPU
(`shared_client/_direct_transport.py` says more)."""


@dataclass
class Measure:
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.extra.setdefault(key, []).append(value)


def timed(fn: Callable[[], Any], calls: int) -> tuple[float, float]:
    """CPU seconds and wall seconds per call of ``fn``."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls


def alternate(contenders: dict[str, Callable[[], Any]], rounds: int, calls: int) -> dict[str, Measure]:
    """Each contender ``calls`` times per round, in rotating order, after one warm-up call each."""
    for fn in contenders.values():
        fn()
    results = {name: Measure() for name in contenders}
    names = list(contenders)
    for round_ in range(rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            cpu, wall = timed(contenders[name], calls)
            results[name].cpu.append(cpu)
            results[name].wall.append(wall)
    return results


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Report:
    def __init__(self) -> None:
        self.sections: list[str] = []

    def table(self, title: str, header: list[str], rows: list[list[str]], note: str = "") -> None:
        lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        if note:
            lines += ["", note]
        text = "\n".join(lines)
        self.sections.append(text)
        print("\n" + text, flush=True)


def per_call_rows(results: dict[str, Measure], baseline: str) -> list[list[str]]:
    base_cpu, base_wall = med(results[baseline].cpu), med(results[baseline].wall)
    return [[name, f"{med(m.cpu) * 1e6:.0f} µs", f"{med(m.cpu) / base_cpu:.2f}",
             f"{med(m.wall) * 1e3:.2f} ms", f"{med(m.wall) / base_wall:.2f}"] for name, m in results.items()]


# --- the contenders -------------------------------------------------------------------------


class Setup:
    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.key = server.api_key
        self.base = server.base_url            # the origin: the client turns it into the API root
        self.api = server.api_root             # http://127.0.0.1:PORT/api/v1, for the raw requests
        self.facade = server.base_url + "/openai/v1"
        self.client = Client(api_key=self.key, base_url=self.base)
        # A raw caller of the wire (docs/protocol.md section 2) as the service's own client is one: it
        # logs in through its session, whose cookie jar then sends the session cookie, with the bearer.
        self.session = requests.Session()
        login = self.session.post(f"{self.api}/auth/api-key", headers={"X-API-Key": self.key}, timeout=10)
        login.raise_for_status()
        self.token = login.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def raw_chat(self) -> Any:
        body = {"model": CHAT_MODEL, "messages": QUESTION, "temperature": 0.7, "max_tokens": None,
                "stream": False, "byok_api_key": None, "additional_params": {}}
        response = self.session.post(f"{self.api}/chat/completions", json=body, timeout=15)
        response.raise_for_status()
        return response.json()["data"]


def bench_per_call(setup: Setup, size: dict[str, int], report: Report) -> None:
    from langchain_openai import ChatOpenAI
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai import OpenAI as LlamaOpenAI

    from langchain_indox import ChatIndox as LangChainIndox
    from llamaindex_indox import ChatIndox as LlamaIndexIndox

    client = setup.client
    results = alternate({"raw requests.post": setup.raw_chat,
                         "Client.chat": lambda: client.chat(QUESTION, model=CHAT_MODEL).data},
                        size["rounds"], size["calls"])
    report.table("Per call: Client.chat vs raw requests", ["contender", "client CPU/call", "ratio", "wall/call",
                 "ratio"], per_call_rows(results, "raw requests.post"), "Goal: Client.chat CPU ≤ 1.10× raw requests.")

    ours = LangChainIndox(model=CHAT_MODEL, client=client)
    peer = ChatOpenAI(model="gpt-4o-mini", api_key=setup.key, base_url=setup.facade)
    results = alternate({"ChatOpenAI.invoke": lambda: peer.invoke("Owls hunt at night. When do owls hunt?"),
                         "ChatIndox.invoke": lambda: ours.invoke("Owls hunt at night. When do owls hunt?")},
                        size["rounds"], size["calls"])
    report.table("Per call: LangChain", ["contender", "client CPU/call", "ratio", "wall/call", "ratio"],
                 per_call_rows(results, "ChatOpenAI.invoke"), "Goal: ChatIndox CPU ≤ 0.75× ChatOpenAI.")

    messages = [ChatMessage(role="user", content="Owls hunt at night. When do owls hunt?")]
    llama_ours = LlamaIndexIndox(model=CHAT_MODEL, client=client)
    llama_peer = LlamaOpenAI(model="gpt-4o-mini", api_key=setup.key, api_base=setup.facade)
    results = alternate({"OpenAI.chat (llama-index)": lambda: llama_peer.chat(messages),
                         "ChatIndox.chat (llama-index)": lambda: llama_ours.chat(messages)},
                        size["rounds"], size["calls"])
    report.table("Per call: LlamaIndex", ["contender", "client CPU/call", "ratio", "wall/call", "ratio"],
                 per_call_rows(results, "OpenAI.chat (llama-index)"), "Goal: ChatIndox CPU ≤ 0.75× OpenAI.")


def long_question(words: int) -> list[dict[str, str]]:
    sentence = "Owls hunt " + " ".join(f"word{i}" for i in range(words)) + " at night."
    return [{"role": "user", "content": f"{sentence} Larks sing at dawn. When do owls hunt?"}]


def bench_streaming(setup: Setup, size: dict[str, int], report: Report) -> None:
    from openai import OpenAI

    messages = long_question(size["words"])
    sdk = OpenAI(api_key=setup.key, base_url=setup.facade, max_retries=0)
    client = setup.client

    def ours() -> Iterator[str]:
        for chunk in client.chat(messages, model=CHAT_MODEL, stream=True, return_generator=True):
            if chunk.data:
                yield chunk.data

    def openai_sdk() -> Iterator[str]:
        for chunk in sdk.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True):  # type: ignore[arg-type]
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    def raw_sse() -> Iterator[str]:
        body = {"model": CHAT_MODEL, "messages": messages, "stream": True}
        with setup.session.post(f"{setup.api}/chat/completions", json=body, stream=True, timeout=15) as response:
            decoder = SSEDecoder()
            for data in response.iter_content(chunk_size=None):
                for event in decoder.feed(data):
                    if event.data == "[DONE]":
                        return
                    text = json.loads(event.data)["choices"][0]["delta"].get("content")
                    if text:
                        yield text

    contenders = {"raw SSE (requests)": raw_sse, "openai SDK": openai_sdk, "Client.chat stream": ours}
    setup.server.inject_fault("stream_delay", path="/chat/completions", delay=0.002, count=10**6)
    results = {name: Measure() for name in contenders}
    try:
        for fn in contenders.values():
            list(fn())
        names = list(contenders)
        for round_ in range(size["rounds"]):
            for name in names[round_ % 3:] + names[:round_ % 3]:
                for _ in range(max(1, size["calls"] // 10)):
                    cpu, wall = time.process_time(), time.perf_counter()
                    tokens = contenders[name]()
                    next(tokens)
                    first = time.perf_counter() - wall
                    count = 1 + sum(1 for _ in tokens)
                    results[name].add("ttft", first)
                    results[name].add("cpu_token", (time.process_time() - cpu) / count)
                    results[name].add("tokens", count)
    finally:
        setup.server.clear_faults()
    base_ttft = med(results["openai SDK"].extra["ttft"])
    base_cpu = med(results["openai SDK"].extra["cpu_token"])
    rows = [[name, f"{med(m.extra['tokens']):.0f}", f"{med(m.extra['ttft']) * 1e3:.2f} ms",
             f"{med(m.extra['ttft']) / base_ttft:.2f}", f"{med(m.extra['cpu_token']) * 1e6:.1f} µs",
             f"{med(m.extra['cpu_token']) / base_cpu:.2f}"] for name, m in results.items()]
    report.table("Streaming (server pauses 2 ms between events)", ["contender", "tokens", "time to first token",
                 "ratio", "client CPU/token", "ratio"], rows,
                 "Ratios against the openai SDK. Goal: time to first token ≤ 1.05×.")


def corpus(count: int) -> list[str]:
    topics = ["rivers", "owls", "markets", "volcanoes", "tea", "bridges", "comets", "violins"]
    return [f"Note {i}: a short remark about {topics[i % 8]} and item {i % 97} in group {i % 13}."
            for i in range(count)]


def _offline_tiktoken() -> None:
    """OpenAIEmbeddings tokenizes with tiktoken; LlamaIndex ships its encodings, so no download is needed."""
    import llama_index.core

    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(Path(llama_index.core.__file__).parent / "_static"
                                                    / "tiktoken_cache"))


def bench_embeddings(setup: Setup, size: dict[str, int], report: Report) -> None:
    _offline_tiktoken()
    from langchain_openai import OpenAIEmbeddings
    from llama_index.embeddings.openai import OpenAIEmbedding

    from langchain_indox import IndoxEmbeddings

    documents = corpus(size["documents"])
    contenders: dict[str, tuple[str, Callable[[], Any]]] = {}
    ours_default = IndoxEmbeddings(model=EMBED_MODEL, dimensions=DIMENSIONS, client=setup.client)
    ours_best = IndoxEmbeddings(model=EMBED_MODEL, dimensions=DIMENSIONS, client=setup.client, max_concurrency=8)
    lc_default = OpenAIEmbeddings(model="text-embedding-3-small", dimensions=DIMENSIONS, api_key=setup.key,
                                  base_url=setup.facade)
    lc_best = OpenAIEmbeddings(model="text-embedding-3-small", dimensions=DIMENSIONS, api_key=setup.key,
                               base_url=setup.facade, check_embedding_ctx_length=False, chunk_size=2048)
    li_default = OpenAIEmbedding(model="text-embedding-3-small", dimensions=DIMENSIONS, api_key=setup.key,
                                 api_base=setup.facade)
    li_best = OpenAIEmbedding(model="text-embedding-3-small", dimensions=DIMENSIONS, api_key=setup.key,
                              api_base=setup.facade, embed_batch_size=2048)
    contenders = {
        "OpenAIEmbeddings (default)": ("batch 1000, tiktoken token ids, sequential",
                                       lambda: lc_default.embed_documents(documents)),
        "IndoxEmbeddings (default)": ("batch 2048, 4 in flight, base64",
                                      lambda: ours_default.embed_documents(documents)),
        "OpenAIEmbeddings (best)": ("batch 2048, no tokenizing", lambda: lc_best.embed_documents(documents)),
        "IndoxEmbeddings (best)": ("batch 2048, 8 in flight", lambda: ours_best.embed_documents(documents)),
        "llama-index OpenAIEmbedding (default)": ("batch 100", lambda: li_default.get_text_embedding_batch(documents)),
        "llama-index OpenAIEmbedding (best)": ("batch 2048", lambda: li_best.get_text_embedding_batch(documents)),
    }
    check = {name: len(fn()) for name, (_, fn) in contenders.items()}
    assert set(check.values()) == {len(documents)}, check
    results = alternate({name: fn for name, (_, fn) in contenders.items()}, size["rounds"], 1)
    base = results["OpenAIEmbeddings (default)"]
    rows = [[name, contenders[name][0], f"{len(documents) / med(m.wall):,.0f}",
             f"{med(base.wall) / med(m.wall):.2f}", f"{med(m.cpu):.2f} s", f"{med(m.cpu) / med(base.cpu):.2f}"]
            for name, m in results.items()]
    report.table(f"Embeddings: {len(documents):,} short documents, {DIMENSIONS} dimensions",
                 ["contender", "settings", "documents/s", "speed ratio", "client CPU", "CPU ratio"], rows,
                 "Ratios against OpenAIEmbeddings with its defaults. Goal for IndoxEmbeddings (default): "
                 "CPU ≤ 0.4×, documents/s ≥ 1.5×.")


class _PoolFull(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "Connection pool is full" in record.getMessage():
            self.count += 1


def _connections(session: requests.Session) -> int:
    pools = session.get_adapter("http://x").poolmanager.pools  # type: ignore[attr-defined]
    return sum(pool.num_connections for pool in pools._container.values())


def bench_concurrency(setup: Setup, size: dict[str, int], report: Report) -> None:
    threads, per_thread = size["threads"], size["per_thread"]
    watcher = _PoolFull()
    logging.getLogger("urllib3").addHandler(watcher)
    rows = []
    try:
        for round_ in range(max(1, size["rounds"] // 2)):
            for name in (["shared Client", "Session per thread"] if round_ % 2 == 0
                         else ["Session per thread", "shared Client"]):
                local = threading.local()
                sessions: list[requests.Session] = []
                client = Client(api_key=setup.key, base_url=setup.base)
                client.providers()

                def work(_: int, name: str = name, client: Client = client,
                         local: threading.local = local, sessions: list[requests.Session] = sessions) -> None:
                    if name == "shared Client":
                        for _call in range(per_thread):
                            client.chat(QUESTION, model=CHAT_MODEL)
                        return
                    if not hasattr(local, "session"):
                        local.session = requests.Session()
                        local.session.headers["Authorization"] = f"Bearer {setup.token}"
                        local.session.cookies.update(setup.session.cookies)  # the session cookie too
                        sessions.append(local.session)
                    for _call in range(per_thread):
                        body = {"model": CHAT_MODEL, "messages": QUESTION}
                        local.session.post(f"{setup.api}/chat/completions", json=body, timeout=15).json()

                started = time.perf_counter()
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(work, range(threads)))
                elapsed = time.perf_counter() - started
                opened = _connections(client._transport.session) if name == "shared Client" else sum(
                    _connections(s) for s in sessions)
                rows.append((name, threads * per_thread / elapsed, opened))
                client.close()
    finally:
        logging.getLogger("urllib3").removeHandler(watcher)
    by_name: dict[str, list[tuple[float, int]]] = {}
    for name, rate, opened in rows:
        by_name.setdefault(name, []).append((rate, opened))
    base = med([r for r, _ in by_name["Session per thread"]])
    table = [[name, f"{med([r for r, _ in v]):,.0f} calls/s", f"{med([r for r, _ in v]) / base:.2f}",
              str(max(o for _, o in v))] for name, v in by_name.items()]
    report.table(f"Concurrency: {threads} threads × {per_thread} chat calls", ["contender", "throughput", "ratio",
                 "connections opened (max)"], table,
                 f"'Connection pool is full' warnings: {watcher.count}. Goal: no more connections than threads, "
                 "no warnings, throughput ≥ 1× one session per thread.")


def bench_imports(size: dict[str, int], report: Report) -> None:
    modules = ["requests", "shared_client", "openai", "langchain_indox", "langchain_openai", "llamaindex_indox",
               "llama_index.llms.openai"]
    code = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"
    rows = []
    for module in modules:
        seconds = [float(subprocess.run([sys.executable, "-c", code.format(module)], capture_output=True,
                                        text=True, check=True).stdout) for _ in range(size["imports"])]
        rows.append([module, f"{med(seconds) * 1e3:.0f} ms"])
    report.table("Import time (fresh interpreter, median)", ["module", "import time"], rows)


def _child_peak_rss(mode: str, amount: int, base_url: str, key: str) -> str:
    command = [sys.executable, __file__, "--child", mode, str(amount), base_url, key]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, amount: int, base_url: str, key: str) -> None:
    """Runs in a fresh process: prints peak RSS (MiB) before and after the work."""
    client = Client(api_key=key, base_url=base_url)
    client.providers()
    before = peak_rss_mib()
    if mode == "stream":
        tokens = sum(1 for c in client.chat(long_question(amount), model=CHAT_MODEL, max_tokens=16384,
                                            stream=True, return_generator=True) if c.data)
    else:
        tokens = len(client.embeddings(corpus(amount), model=EMBED_MODEL, dimensions=DIMENSIONS).data)
    after = peak_rss_mib()
    print(f"{before:.1f} {after:.1f} {tokens}")


def bench_memory(setup: Setup, size: dict[str, int], report: Report) -> None:
    rows = []
    small, large = (50, 500) if size["documents"] < 1000 else (1_000, 10_000)
    for mode, amounts, unit in (("stream", (small, large), "streamed tokens"),
                                ("embed", (size["documents"] // 4, size["documents"]), "embedded documents")):
        for amount in amounts:
            before, after, done = _child_peak_rss(mode, amount, setup.base, setup.key).split()
            rows.append([mode, f"{int(done):,} {unit}", f"{float(before):.0f} MiB", f"{float(after):.0f} MiB",
                         f"{float(after) - float(before):+.1f} MiB"])
    report.table("Peak memory (fresh process each)", ["work", "size", "peak RSS before", "peak RSS after",
                 "growth"], rows, "Streaming iterates the chunks without keeping them: growth should not "
                 "follow the answer's length. Embedding keeps its result (the vectors themselves).")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} "
            f"{platform.release()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this Markdown file")
    parser.add_argument("--only", nargs="*",
                        choices=["call", "stream", "embed", "threads", "async", "imports", "memory"])
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, amount, base_url, key = args.child
        child(mode, int(amount), base_url, key)
        return 0
    size = SIZES[args.size]
    report = Report()
    print(f"Machine: {machine()}\nSize: {args.size} {size}", flush=True)
    wanted = set(args.only or ["call", "stream", "embed", "threads", "async", "imports", "memory"])
    with LocalServer(subprocess=True, rate_limit=10**9, credits=10**9) as server:
        setup = Setup(server)
        steps = [("call", bench_per_call), ("stream", bench_streaming), ("embed", bench_embeddings),
                 ("threads", bench_concurrency), ("memory", bench_memory)]
        for key, step in steps:
            if key in wanted:
                step(setup, size, report)
        if "async" in wanted:
            from async_bench import run_async

            _offline_tiktoken()
            asyncio.run(run_async(setup, size, report, corpus(size["documents"])))
        setup.client.close()
    if "imports" in wanted:
        bench_imports(size, report)
    if args.markdown:
        header = MARKDOWN_HEADER.format(date=time.strftime("%Y-%m-%d"), machine=machine(), size=args.size,
                                        rounds=size["rounds"], path=args.markdown)
        args.markdown.write_text(header + "\n\n" + "\n\n".join(report.sections) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
