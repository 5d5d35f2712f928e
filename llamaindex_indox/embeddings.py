"""``IndoxEmbeddings``: indoxRouter's embedding models as a LlamaIndex ``BaseEmbedding``."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import AliasChoices, Field

from shared_client.integration import MAX_EMBEDDING_BATCH

from ._connection import IndoxConnection

DEFAULT_BATCHES_IN_FLIGHT = 4


class IndoxEmbeddings(IndoxConnection, BaseEmbedding):
    """indoxRouter embeddings for LlamaIndex indexes and ingestion pipelines.

    ```python
    from llama_index.core import Settings
    from llamaindex_indox import IndoxEmbeddings

    Settings.embed_model = IndoxEmbeddings(model="openai/text-embedding-3-small")
    ```

    Batches are real batch requests of ``embed_batch_size`` texts (default the
    protocol's 2048); async batches run ``num_workers`` at a time (default 4),
    so a big ingest does not set off a storm of 429s. The async methods run on
    ``shared_client.AsyncClient`` (``async_client``, or one of their own per event loop).
    """

    model_name: str = Field(default="openai/text-embedding-3-small",
                            validation_alias=AliasChoices("model", "model_name"),
                            description="The model, as provider/model.")
    embed_batch_size: int = Field(default=MAX_EMBEDDING_BATCH, gt=0, le=MAX_EMBEDDING_BATCH,
                                  description="Texts per request (at most 2048).")
    num_workers: int | None = Field(default=DEFAULT_BATCHES_IN_FLIGHT, description="Async batches in flight at once.")
    dimensions: int | None = Field(default=None, gt=0, description="Vector length, for models that take it.")
    additional_kwargs: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def class_name(cls) -> str:
        return "IndoxEmbeddings"

    @property
    def model(self) -> str:
        return self.model_name

    def _extra(self) -> dict[str, Any]:
        extra = dict(self.additional_kwargs)
        if self.dimensions is not None:
            extra["dimensions"] = self.dimensions
        return extra

    def _batches(self, texts: list[str]) -> list[list[str]]:
        size = self.embed_batch_size
        return [texts[start:start + size] for start in range(0, len(texts), size)]

    def _embed(self, texts: list[str]) -> list[list[float]]:
        """One request per ``embed_batch_size`` texts, one after the other, vectors in input order."""
        client, extra = self.indox_client, self._extra()
        return [vector for batch in self._batches(texts)
                for vector in client.embeddings(batch, model=self.model_name, **extra).data]

    async def _aembed(self, texts: list[str]) -> list[list[float]]:
        """:meth:`_embed` on the async client: the batches ``num_workers`` at a time, in input order."""
        client, extra = await self.aindox_client(), self._extra()
        in_flight = asyncio.Semaphore(max(1, self.num_workers or DEFAULT_BATCHES_IN_FLIGHT))

        async def embed(batch: list[str]) -> list[list[float]]:
            async with in_flight:
                return (await client.embeddings(batch, model=self.model_name, **extra)).data

        answers = await asyncio.gather(*(embed(batch) for batch in self._batches(texts)))
        return [vector for vectors in answers for vector in vectors]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts) if texts else []

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await self._aembed([query]))[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._aembed([text]))[0]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await self._aembed(texts) if texts else []
