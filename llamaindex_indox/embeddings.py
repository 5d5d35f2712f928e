"""``IndoxEmbeddings``: indoxRouter's embedding models as a LlamaIndex ``BaseEmbedding``."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import AliasChoices, Field

from shared_client.integration import MAX_EMBEDDING_BATCH

from ._connection import IndoxConnection


class IndoxEmbeddings(IndoxConnection, BaseEmbedding):
    """indoxRouter embeddings for LlamaIndex indexes and ingestion pipelines.

    ```python
    from llama_index.core import Settings
    from llamaindex_indox import IndoxEmbeddings

    Settings.embed_model = IndoxEmbeddings(model="openai/text-embedding-3-small")
    ```

    Batches are real batch requests of ``embed_batch_size`` texts (default the
    protocol's 2048); async batches run ``num_workers`` at a time (default 4),
    so a big ingest does not set off a storm of 429s.
    """

    model_name: str = Field(default="openai/text-embedding-3-small",
                            validation_alias=AliasChoices("model", "model_name"),
                            description="The model, as provider/model.")
    embed_batch_size: int = Field(default=MAX_EMBEDDING_BATCH, gt=0, le=MAX_EMBEDDING_BATCH,
                                  description="Texts per request (at most 2048).")
    num_workers: int | None = Field(default=4, description="Async batches in flight at once.")
    dimensions: int | None = Field(default=None, gt=0, description="Vector length, for models that take it.")
    additional_kwargs: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def class_name(cls) -> str:
        return "IndoxEmbeddings"

    @property
    def model(self) -> str:
        return self.model_name

    def _embed(self, texts: list[str]) -> list[list[float]]:
        extra = dict(self.additional_kwargs)
        if self.dimensions is not None:
            extra["dimensions"] = self.dimensions
        return self.indox_client.embeddings(texts, model=self.model_name, **extra).data

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts) if texts else []

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await asyncio.to_thread(self._embed, [query]))[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await asyncio.to_thread(self._embed, [text]))[0]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._embed, texts) if texts else []
