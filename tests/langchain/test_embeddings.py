"""IndoxEmbeddings: batching, concurrency, order, empties, dimensions, progress."""

from __future__ import annotations

import json

import pytest

from indox_server import LocalServer
from langchain_indox import IndoxEmbeddings


def embed_requests(server: LocalServer) -> list[list[str]]:
    return [json.loads(e["body"])["text"] for e in server.journal() if e["path"] == "/api/v1/embeddings"]


@pytest.fixture
def embeddings(server: LocalServer) -> IndoxEmbeddings:
    return IndoxEmbeddings(model="local/hash-embedding-256", api_key=server.api_key, base_url=server.base_url)


def test_empty_list_sends_nothing(embeddings: IndoxEmbeddings, server: LocalServer) -> None:
    server.clear_journal()
    assert embeddings.embed_documents([]) == []
    assert server.journal() == []


@pytest.mark.parametrize("concurrency", [1, 3])
def test_batches_by_chunk_size_in_order(server: LocalServer, concurrency: int) -> None:
    texts = [f"document number {i}" for i in range(25)]
    small = IndoxEmbeddings(model="local/hash-embedding-256", chunk_size=10, max_concurrency=concurrency,
                            api_key=server.api_key, base_url=server.base_url)
    server.clear_journal()
    vectors = small.embed_documents(texts)
    assert sorted(len(batch) for batch in embed_requests(server)) == [5, 10, 10]
    assert vectors == [small.embed_query(t) for t in texts]


def test_default_batch_is_the_protocol_maximum(embeddings: IndoxEmbeddings, server: LocalServer) -> None:
    server.clear_journal()
    assert len(embeddings.embed_documents([f"t{i}" for i in range(2049)])) == 2049
    assert sorted(len(b) for b in embed_requests(server)) == [1, 2048]


def test_chunk_size_is_limited_to_the_protocol() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        IndoxEmbeddings(chunk_size=4096)
    with pytest.raises(ValueError, match="max_concurrency"):
        IndoxEmbeddings(max_concurrency=0)


def test_empty_strings_dimensions_and_similarity(server: LocalServer) -> None:
    embeddings = IndoxEmbeddings(model="openai/text-embedding-3-small", dimensions=64, api_key=server.api_key,
                                 base_url=server.base_url)
    vectors = embeddings.embed_documents(["", "cats purr loudly", "a cat purrs"])
    assert [len(v) for v in vectors] == [64, 64, 64]
    query = embeddings.embed_query("do cats purr")
    scores = [sum(a * b for a, b in zip(query, v)) for v in vectors]
    assert scores[1] > scores[0] and scores[2] > scores[0]


def test_progress_bar(server: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    embeddings = IndoxEmbeddings(model="local/hash-embedding-256", chunk_size=5, show_progress_bar=True,
                                 api_key=server.api_key, base_url=server.base_url)
    assert len(embeddings.embed_documents([f"t{i}" for i in range(12)])) == 12
    assert "3/3" in capsys.readouterr().err


async def test_async_forms(embeddings: IndoxEmbeddings) -> None:
    documents = await embeddings.aembed_documents(["one", "two"])
    assert documents == embeddings.embed_documents(["one", "two"])
    assert await embeddings.aembed_query("one") == documents[0]
