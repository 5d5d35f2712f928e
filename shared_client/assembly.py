"""Putting streamed chunks back together: written once, for the client and both adapters.

``ToolCallAssembler`` joins OpenAI-style tool-call deltas (the first delta of a
call carries ``id`` and ``function.name``; later ones with the same ``index``
carry more ``function.arguments``). ``StreamAssembler`` turns a whole stream of
:class:`StreamChunk` into the response the non-streamed call would have given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .models import ChatResponse, StreamChunk, Usage


@dataclass
class PartialToolCall:
    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""
    type: str = "function"

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type,
                "function": {"name": self.name, "arguments": self.arguments}}


class ToolCallAssembler:
    """Collects tool-call deltas by ``index``, in the order the calls first appeared."""

    def __init__(self) -> None:
        self._calls: dict[int, PartialToolCall] = {}

    def add(self, deltas: list[dict[str, Any]] | None) -> None:
        for position, delta in enumerate(deltas or []):
            if not isinstance(delta, dict):
                continue
            index = delta.get("index")
            if not isinstance(index, int):
                index = position
            call = self._calls.get(index)
            if call is None:
                call = self._calls[index] = PartialToolCall(index)
            if isinstance(delta.get("id"), str) and delta["id"]:
                call.id = delta["id"]
            if isinstance(delta.get("type"), str) and delta["type"]:
                call.type = delta["type"]
            function = delta.get("function")
            if isinstance(function, dict):
                if isinstance(function.get("name"), str) and function["name"]:
                    call.name = function["name"]
                if isinstance(function.get("arguments"), str):
                    call.arguments += function["arguments"]

    @property
    def calls(self) -> list[PartialToolCall]:
        return list(self._calls.values())

    def to_wire(self) -> list[dict[str, Any]] | None:
        return [call.to_wire() for call in self._calls.values()] or None


def parse_partial_json(text: str) -> dict[str, Any]:
    """``text`` as a JSON object, closing open strings, arrays and objects; ``{}`` if it cannot."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
        return value if isinstance(value, dict) else {}
    except ValueError:
        pass
    closers: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            closers.append("}" if char == "{" else "]")
        elif char in "}]" and closers:
            closers.pop()
    candidate = text + ('"' if in_string else "")
    for trim in range(0, min(len(candidate), 64)):
        attempt = candidate[: len(candidate) - trim].rstrip().rstrip(",:")
        try:
            value = json.loads(attempt + "".join(reversed(closers)))
        except ValueError:
            continue
        return value if isinstance(value, dict) else {}
    return {}


@dataclass
class StreamAssembler:
    """Accumulates chunks; ``response()`` gives the assembled chat or completion answer."""

    text: list[str] = field(default_factory=list)
    tool_calls: ToolCallAssembler = field(default_factory=ToolCallAssembler)
    finish_reason: str | None = None
    usage: Usage | None = None
    provider: str | None = None
    model: str | None = None
    request_id: str | None = None
    chunks: int = 0

    def add(self, chunk: StreamChunk) -> None:
        self.chunks += 1
        if chunk.data:
            self.text.append(chunk.data)
        if chunk.tool_calls:
            self.tool_calls.add(chunk.tool_calls)
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage
        self.provider = self.provider or chunk.provider
        self.model = self.model or chunk.model
        self.request_id = self.request_id or chunk.request_id

    def response(self, cls: type[ChatResponse], requested_model: str) -> ChatResponse:
        provider, _, name = requested_model.partition("/")
        usage = self.usage or Usage()
        return cls.model_construct(
            data="".join(self.text), model=self.model or name, provider=self.provider or provider,
            success=True, message="ok", usage=usage, finish_reason=self.finish_reason,
            raw_response=None, tool_calls=self.tool_calls.to_wire(), request_id=self.request_id,
            created_at=None, duration_ms=None)
