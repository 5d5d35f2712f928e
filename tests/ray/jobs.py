"""A Ray Data job the Ray tests share: texts in, ``(id, vector)`` rows out, embedded by two workers."""

from __future__ import annotations

import sys
from typing import Any

import pandas as pd
import ray.cloudpickle

# Ray's workers cannot import this folder (it is no installed package): its classes travel by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Embed:
    """One per Ray worker: its own copy of ``embeddings`` (LangChain's), connected on first use."""

    def __init__(self, embeddings: Any) -> None:
        self.embeddings = embeddings

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch.assign(vector=self.embeddings.embed_documents(batch["text"].tolist()))


def embed_on_ray(embeddings: Any, texts: list[str], batch_size: int) -> dict[int, list[float]]:
    """Each text's vector by its position, embedded by two Ray workers in batches of ``batch_size``."""
    rows = ray.data.from_items([{"id": n, "text": text} for n, text in enumerate(texts)])
    done = rows.map_batches(Embed, fn_constructor_kwargs={"embeddings": embeddings}, batch_format="pandas",
                            batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=2), num_cpus=0.5)
    vectors: dict[int, list[float]] = {}
    for row in done.iter_rows():
        assert row["id"] not in vectors, f"text {row['id']} came back twice"
        vectors[row["id"]] = [float(x) for x in row["vector"]]
    return vectors
