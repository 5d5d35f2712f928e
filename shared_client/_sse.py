"""A byte-level Server-Sent Events decoder, per the WHATWG rules.

Why our own: ``requests``' ``iter_lines()`` waits for 512 bytes on answers
that are not chunked, invents a blank line when ``\\r\\n`` is split across
reads, decodes ``text/event-stream`` as Latin-1 and splits on U+2028. This
decoder takes whatever bytes have arrived, splits lines on ``\\n``, ``\\r\\n``
and ``\\r`` only (also across reads), decodes each complete line as UTF-8,
joins multi-line ``data`` fields with ``\\n``, ignores comments and the
``event``/``id``/``retry`` fields' effects beyond recording them, and never
dispatches an event that the stream ended in the middle of.
"""

from __future__ import annotations

from dataclasses import dataclass

_BOM = "\ufeff"


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str = ""


class SSEDecoder:
    """Feed it bytes as they arrive; it returns the events they complete."""

    def __init__(self) -> None:
        self._partial = b""  # an incomplete line
        self._skip_lf = False  # the last read ended in \r: a \n starting the next one ends that line
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""

    @property
    def mid_event(self) -> bool:
        """Whether bytes of an event have arrived that no blank line has completed."""
        return bool(self._partial or self._data or self._event)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        if not chunk:
            return []
        lines = (self._partial + chunk).splitlines(keepends=True)
        if lines[-1].endswith((b"\n", b"\r")):
            self._partial = b""
            self._skip_lf = lines[-1].endswith(b"\r")
        else:
            self._partial = lines.pop()
        events: list[SSEEvent] = []
        for raw in lines:
            event = self._line(raw.rstrip(b"\r\n").decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not self._started:
            self._started = True
            if line.startswith(_BOM):
                line = line[1:]
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        return None  # "retry" and unknown fields change nothing we use

    def _dispatch(self) -> SSEEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SSEEvent("\n".join(data), event or "message", self._last_id)
