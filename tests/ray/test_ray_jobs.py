"""The docs page's samples and the failure cases on a local Ray: two workers, the local server."""

from __future__ import annotations

import contextlib
import io
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import ray

import langchain_indox
from indox_server import LocalServer
from shared_client import AuthenticationError
from tests.test_docs import ROOT, samples

from .jobs import embed_on_ray

pytestmark = pytest.mark.usefixtures("ray_cluster")

MODEL = "local/hash-embedding-256"
FILES, CHUNKS_PER_FILE, WORDS_PER_CHUNK = 200, 100, 20  # 20,000 chunks of the docs page's 20 words


def _write_corpus(folder: Path) -> dict[str, str]:
    """FILES text files of CHUNKS_PER_FILE chunks each; every chunk's id and text."""
    folder.mkdir()
    expected: dict[str, str] = {}
    for f in range(FILES):
        name = f"file-{f:03}.txt"
        chunks = [" ".join(f"f{f}c{c}w{w}" for w in range(WORDS_PER_CHUNK)) for c in range(CHUNKS_PER_FILE)]
        (folder / name).write_text("\n".join(chunks))
        expected.update({f"{name}#{c}": text for c, text in enumerate(chunks)})
    return expected


def test_the_docs_samples_embed_20000_chunks_as_one_process_does(
        server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """docs/ray.md as written, over a corpus of 20,000 chunks (the page writes its own small one
    only when the folder has no text files): each chunk once in each framework's Parquet, with the
    vector a single process gets from the same model, and both stores answer."""
    monkeypatch.setenv("INDOX_ROUTER_API_KEY", server.api_key)
    monkeypatch.setenv("INDOX_ROUTER_BASE_URL", server.base_url)
    monkeypatch.chdir(tmp_path)
    expected = _write_corpus(tmp_path / "corpus")
    namespace: dict[str, object] = {"__name__": "docs_ray"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for number, code in enumerate(samples(ROOT / "docs" / "ray.md"), start=1):
            exec(compile(code, f"ray.md sample {number}", "exec"), namespace)
    assert namespace["WORDS_PER_CHUNK"] == WORDS_PER_CHUNK and len(expected) == 20_000
    ids = list(expected)
    texts = [expected[i] for i in ids]
    single = {
        "vectors-langchain": namespace["embeddings"].embed_documents(texts),  # type: ignore[attr-defined]
        "vectors-llamaindex": namespace["embed_model"].get_text_embedding_batch(texts),  # type: ignore[attr-defined]
    }
    for folder, vectors in single.items():
        table = pd.read_parquet(tmp_path / folder)
        assert sorted(Counter(table["id"]).values()) == [1] * 20_000 and set(table["id"]) == set(expected), folder
        by_id = {row.id: (row.text, row.vector.tolist()) for row in table.itertuples()}
        assert [by_id[i][0] for i in ids] == texts, folder
        assert [by_id[i][1] for i in ids] == vectors, folder
    assert len(single["vectors-langchain"][0]) == 256  # the samples' dimensions=256
    out = printed.getvalue()
    assert "LangChain: 20000 chunks; best match from file-" in out
    assert "LlamaIndex: 20000 chunks; best match from file-" in out
    namespace.clear()  # 20,000 nodes and documents: let them go before the next test


@pytest.fixture
def rate_limited() -> Iterator[LocalServer]:
    """A server of its own answering 429 (Retry-After: 1) past 4 requests a second per account."""
    with LocalServer(rate_limit=4, rate_window=1.0) as running:
        yield running


def test_workers_wait_out_429s_and_every_vector_comes_once(rate_limited: LocalServer, server: LocalServer) -> None:
    texts = [f"text number {n} about owls, tea and Rome" for n in range(160)]
    embeddings = langchain_indox.IndoxEmbeddings(model=MODEL, api_key=rate_limited.api_key,
                                                 base_url=rate_limited.base_url, max_retries=30)
    vectors = embed_on_ray(embeddings, texts, batch_size=8)  # some 20 requests at 4 a second
    alone = langchain_indox.IndoxEmbeddings(model=MODEL, api_key=server.api_key, base_url=server.base_url)
    assert [vectors[n] for n in range(len(texts))] == alone.embed_documents(texts)
    assert sorted(vectors) == list(range(len(texts)))
    sent = Counter(entry["body"] for entry in rate_limited.journal() if entry["path"].endswith("/embeddings"))
    # The journal records each request before the limiter sees it; with no fault switched on, a
    # batch sent more than once is one the server answered 429 (a retry sends the very same bytes).
    assert max(sent.values()) > 1


def test_a_refused_key_fails_the_job_and_stays_out_of_the_message_and_rays_logs(server: LocalServer) -> None:
    canary = f"indox-canary-{uuid.uuid4().hex}"
    embeddings = langchain_indox.IndoxEmbeddings(model=MODEL, api_key=canary, base_url=server.base_url)
    context = ray.data.DataContext.get_current()
    before = context.raise_original_map_exception
    context.raise_original_map_exception = True  # the worker's exception, not Ray Data's UserCodeException
    try:
        with pytest.raises(ray.exceptions.RayTaskError) as raised:
            embed_on_ray(embeddings, [f"text {n}" for n in range(10)], batch_size=4)
    finally:
        context.raise_original_map_exception = before
    error = raised.value
    assert isinstance(error, AuthenticationError) and isinstance(error.cause, AuthenticationError)
    assert "refused the API key" in str(error.cause)
    assert canary not in str(error) and canary not in repr(error.cause)
    logs = Path(ray._private.worker._global_node.get_session_dir_path()) / "logs"
    # Ray Data logs the failure from the driver: wait for it to be there, so that the search
    # below reads the logs of this very failure.
    deadline = time.monotonic() + 60
    while "AuthenticationError" not in (text := _logs_text(logs)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "AuthenticationError" in text
    assert canary not in text


def _logs_text(folder: Path) -> str:
    return "\n".join(path.read_text(errors="replace") for path in sorted(folder.rglob("*")) if path.is_file())


def test_a_batch_whose_connection_drops_is_run_again_by_ray_data_when_told_to(server: LocalServer) -> None:
    """The client does not repeat a POST that may have reached the server; Ray Data's map retries,
    told to retry that error, run the batch again, and the job still ends with every vector once."""
    texts = [f"text number {n} about bees" for n in range(40)]
    embeddings = langchain_indox.IndoxEmbeddings(model=MODEL, api_key=server.api_key, base_url=server.base_url)
    expected = embeddings.embed_documents(texts)
    server.clear_journal()
    server.inject_fault("drop", path="/embeddings", method="POST", count=1)
    context = ray.data.DataContext.get_current()
    before = context.retried_map_errors, context.max_map_retries
    context.retried_map_errors, context.max_map_retries = ["The request may have been processed"], 2
    try:
        vectors = embed_on_ray(embeddings, texts, batch_size=10)
    finally:
        context.retried_map_errors, context.max_map_retries = before
    assert server.pending_faults() == []  # the drop happened
    assert [vectors[n] for n in range(len(texts))] == expected
    sent = Counter(entry["body"] for entry in server.journal() if entry["path"].endswith("/embeddings"))
    assert 2 in sent.values() and max(sent.values()) == 2  # the dropped batch (and its task's others) again
