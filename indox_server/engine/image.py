"""The local image model: a deterministic PNG pattern derived from the prompt.

The prompt (and the image's index, so ``n`` images differ) is hashed into
three colours: a vertical gradient between the first two, crossed by a
checkerboard of the third. Written with zlib alone; any viewer opens it.
"""

from __future__ import annotations

import hashlib
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _mix(a: bytes, b: bytes, t: float) -> bytes:
    return bytes(round(x + (y - x) * t) for x, y in zip(a, b, strict=False))


def render_png(prompt: str, width: int, height: int, index: int = 0) -> bytes:
    seed = hashlib.sha256(f"{index}|{prompt}".encode()).digest()
    top, bottom, accent = seed[0:3], seed[3:6], seed[6:9]
    cell = max(4, min(width, height) // 8)
    rows = []
    for y in range(height):
        base = _mix(top, bottom, y / max(1, height - 1))
        tint = _mix(base, accent, 0.45)
        first, second = (base, tint) if (y // cell) % 2 == 0 else (tint, base)
        pattern = (first * cell + second * cell) * (width // (2 * cell) + 1)
        rows.append(b"\x00" + pattern[: width * 3])
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + _chunk(b"IEND", b""))
