"""Server-Sent Events framing for the local server's streams (docs/protocol.md section 3)."""

from __future__ import annotations

import json
from typing import Any

from .faults import Fault

DONE = "[DONE]"


def encode_event(payload: Any, style: Fault | None = None, number: int = 0) -> bytes:
    """One SSE event carrying ``payload`` (a JSON value, or the text ``[DONE]``)."""
    if payload == DONE:
        lines = [DONE]
    elif style is not None and style.multiline:
        lines = json.dumps(payload, indent=1, ensure_ascii=False).split("\n")
    else:
        lines = [json.dumps(payload, separators=(",", ":"), ensure_ascii=False)]
    fields = [f"data: {line}" for line in lines]
    end = "\n"
    if style is not None:
        end = style.line_ending
        if style.comments:
            fields = [": keep-alive", "event: message", f"id: {number}", "retry: 1000", *fields]
        if style.multiline:
            fields = [f.replace("data: ", "data:", 1) if i % 2 else f for i, f in enumerate(fields)]
    return (end.join(fields) + end + end).encode("utf-8")


def pieces(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into writes of ``size`` bytes (all of it at once for 0)."""
    if size <= 0:
        return [data]
    return [data[i:i + size] for i in range(0, len(data), size)]
