"""Fault injection: what tests switch on to see a client cope with a bad day.

A fault applies to the next ``count`` requests whose path (relative to the API root
``/api/v1``, or to ``/openai/v1`` for the facade, e.g. ``/chat/completions`` or ``/auth/api-key``)
equals ``path`` (``"*"`` matches every path) and, if given, whose method
equals ``method``. The kinds:

* ``respond``: answer with ``status``, ``body`` (a JSON value, or a string sent
  as it is with ``content_type``; by default the protocol's error body) and
  extra ``headers``, without touching the real handler.
* ``drop``: close the connection without answering.
* ``delay``: wait ``delay`` seconds, then answer normally.
* ``cut_stream``: a stream ends after ``after_events`` events without
  ``[DONE]``; ``abort: true`` resets the connection instead of ending cleanly.
* ``stream_error``: a stream sends an error event (``error_type``, ``status``)
  after ``after_events`` events.
* ``stream_delay``: wait ``delay`` seconds before each stream event.
* ``sse_style``: send a stream with other ``line_ending`` (``"\\r\\n"`` or
  ``"\\r"``), ``comments`` (keep-alive lines), ``multiline`` data fields, and
  writes of ``split`` bytes at a time: all valid SSE a client must accept;
  ``linger`` keeps the stream open that many seconds after ``[DONE]``.
* ``reorder``: an embeddings answer lists its items last to first (the
  protocol lets items come in any order; ``index`` says which is which).

Stream kinds are used up only by streamed answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ServerError, invalid

REQUEST_KINDS = ("respond", "drop", "delay")
STREAM_KINDS = ("cut_stream", "stream_error", "stream_delay", "sse_style")
ALL_KINDS = (*REQUEST_KINDS, *STREAM_KINDS, "reorder")


@dataclass
class Fault:
    kind: str
    path: str = "*"
    method: str | None = None
    count: int = 1
    status: int = 500
    body: Any = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    after_events: int = 0
    abort: bool = False
    error_type: str | None = None
    line_ending: str = "\n"
    comments: bool = False
    multiline: bool = False
    split: int = 0
    linger: float = 0.0

    def matches(self, path: str, method: str) -> bool:
        return (self.path in ("*", path)) and (self.method is None or self.method.upper() == method)


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "kind": str, "path": str, "method": str, "count": int, "status": int,
    "content_type": str, "headers": dict, "delay": (int, float), "after_events": int,
    "abort": bool, "error_type": str, "line_ending": str, "comments": bool,
    "multiline": bool, "split": int, "linger": (int, float),
}


def _type_ok(value: Any, kind: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # a bool is an int to isinstance, never to us
        return kind is bool
    return kind is not bool and isinstance(value, kind)


def fault_from_json(spec: Any) -> Fault:
    if not isinstance(spec, dict):
        raise invalid("A fault is a JSON object.")
    unknown = set(spec) - set(_FIELD_TYPES) - {"body"}
    if unknown:
        raise invalid(f"Unknown fault fields: {', '.join(sorted(unknown))}.")
    for key, kind in _FIELD_TYPES.items():
        value = spec.get(key)
        if value is not None and not _type_ok(value, kind):
            raise ServerError("validation_error", f"Fault field '{key}' has the wrong type.")
    if spec.get("kind") not in ALL_KINDS:
        raise invalid(f"Fault kind must be one of {', '.join(ALL_KINDS)}.")
    if spec.get("line_ending", "\n") not in ("\n", "\r\n", "\r"):
        raise invalid("line_ending must be '\\n', '\\r\\n' or '\\r'.")
    fault = Fault(**{k: v for k, v in spec.items() if v is not None})
    fault.delay, fault.linger = float(fault.delay), float(fault.linger)
    if fault.count < 1:
        raise invalid("count must be at least 1.")
    return fault


class FaultBoard:
    """The faults switched on, used up in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[Fault]:
        return list(self._faults)

    def take(self, path: str, method: str, kinds: tuple[str, ...]) -> list[Fault]:
        """Use up one of each matching fault of ``kinds``; the first of a kind wins."""
        taken: list[Fault] = []
        seen: set[str] = set()
        for fault in list(self._faults):
            if fault.kind in kinds and fault.kind not in seen and fault.matches(path, method):
                seen.add(fault.kind)
                taken.append(fault)
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
        return taken
