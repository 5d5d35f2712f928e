"""``IndoxEmbeddings``: indoxRouter's embedding models as LangChain ``Embeddings``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import Field, field_validator

from shared_client.integration import MAX_EMBEDDING_BATCH, gather_bounded

from ._connection import IndoxConnection


class IndoxEmbeddings(IndoxConnection, Embeddings):
    """indoxRouter embeddings for LangChain vector stores and retrievers.

    ```python
    from langchain_indox import IndoxEmbeddings

    embeddings = IndoxEmbeddings(model="openai/text-embedding-3-small", dimensions=256)
    vectors = embeddings.embed_documents(["first text", "second text"])
    ```

    Texts go in batches of ``chunk_size`` (at most the protocol's 2048), up to
    ``max_concurrency`` batches at a time on the shared client's connection pool;
    vectors come back in input order (``aembed_documents``: the same, as concurrent
    tasks on ``shared_client.AsyncClient``). Vectors travel as base64 float32.
    """

    model: str = Field(default="openai/text-embedding-3-small", alias="model_name")
    dimensions: int | None = None
    """Length of the vectors, for models that take it (``None``: the model's own)."""
    chunk_size: int = MAX_EMBEDDING_BATCH
    """Texts per request, at most 2048."""
    max_concurrency: int = 4
    """Batches in flight at once for long inputs (1: one after another)."""
    show_progress_bar: bool = False
    """Show a tqdm progress bar over the batches (needs ``tqdm``)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("chunk_size")
    @classmethod
    def _chunk_size_within_protocol(cls, value: int) -> int:
        if not 1 <= value <= MAX_EMBEDDING_BATCH:
            raise ValueError(f"chunk_size must be between 1 and {MAX_EMBEDDING_BATCH}; got {value}")
        return value

    @field_validator("max_concurrency")
    @classmethod
    def _positive_concurrency(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"max_concurrency must be at least 1; got {value}")
        return value

    def _batches(self, texts: list[str]) -> list[list[str]]:
        return [list(texts[i:i + self.chunk_size]) for i in range(0, len(texts), self.chunk_size)]

    def _extra(self) -> dict[str, Any]:
        extra = dict(self.model_kwargs)
        if self.dimensions is not None:
            extra["dimensions"] = self.dimensions
        return extra

    # --- sync ---------------------------------------------------------------------------------

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        return self.indox_client.embeddings(texts, model=self.model, **self._extra()).data

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order; an empty list sends nothing."""
        if not texts:
            return []
        batches = self._batches(texts)
        progress = _progress(len(batches)) if self.show_progress_bar else None
        try:
            if self.max_concurrency == 1 or len(batches) == 1:
                results = []
                for batch in batches:
                    results.append(self._embed_batch(batch))
                    if progress is not None:
                        progress.update(1)
            else:
                with ThreadPoolExecutor(min(self.max_concurrency, len(batches))) as pool:
                    futures = [pool.submit(self._embed_batch, batch) for batch in batches]
                    if progress is not None:
                        for future in futures:
                            future.add_done_callback(lambda _: progress.update(1))
                    results = [future.result() for future in futures]
        finally:
            if progress is not None:
                progress.close()
        return [vector for batch in results for vector in batch]

    def embed_query(self, text: str) -> list[float]:
        return self._embed_batch([text])[0]

    # --- async: the same, on AsyncClient, batches as concurrent tasks -------------------------

    async def _aembed_batch(self, texts: list[str]) -> list[list[float]]:
        client = await self._aindox_client()
        return (await client.embeddings(texts, model=self.model, **self._extra())).data

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """As :meth:`embed_documents`: at most ``max_concurrency`` batches in flight, vectors in order."""
        if not texts:
            return []
        batches = self._batches(texts)
        progress = _progress(len(batches)) if self.show_progress_bar else None
        try:
            results = await gather_bounded([partial(self._aembed_batch, batch) for batch in batches],
                                           self.max_concurrency,
                                           on_done=None if progress is None else lambda: progress.update(1))
        finally:
            if progress is not None:
                progress.close()
        return [vector for batch in results for vector in batch]

    async def aembed_query(self, text: str) -> list[float]:
        return (await self._aembed_batch([text]))[0]


def _progress(total: int) -> Any:
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportError("show_progress_bar=True needs tqdm: pip install tqdm") from exc
    return tqdm(total=total, desc="Embedding", unit="batch")
