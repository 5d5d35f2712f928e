"""The local embedding model: feature hashing of words and word pairs.

Each lower-cased, stemmed content word adds 1.0 and each pair of neighbouring
words 0.5 to one coordinate chosen by a stable hash (with a hashed sign); the
vector is then L2-normalised. Texts sharing words therefore have a positive
cosine similarity, so a vector index built on it retrieves relevant passages.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import sys
from array import array
from functools import lru_cache

from .text import STOPWORDS, stem, words

_PAIR_WEIGHT = 0.5


@lru_cache(maxsize=262144)
def _slot(feature: str, dimensions: int) -> tuple[int, float]:
    digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    return digest % dimensions, (1.0 if digest >> 63 else -1.0)


def embed(text: str, dimensions: int) -> list[float]:
    """The unit vector of ``text`` in ``dimensions`` coordinates."""
    terms = [stem(w) for w in words(text) if w not in STOPWORDS]
    features = [(t, 1.0) for t in terms]
    features += [(f"{a} {b}", _PAIR_WEIGHT) for a, b in itertools.pairwise(terms)]
    if not features:
        features = [("\x00empty", 1.0)]
    sparse: dict[int, float] = {}
    for feature, weight in features:
        index, sign = _slot(feature, dimensions)
        sparse[index] = sparse.get(index, 0.0) + sign * weight
    norm = math.sqrt(sum(v * v for v in sparse.values())) or 1.0
    vector = [0.0] * dimensions
    for index, value in sparse.items():
        vector[index] = value / norm
    return vector


def to_base64(vector: list[float]) -> str:
    """``vector`` as base64 of little-endian float32 values (docs/protocol.md section 5)."""
    packed = array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")
