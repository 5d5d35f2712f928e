"""The SSE decoder on its own: WHATWG line rules over arbitrary read boundaries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared_client._sse import SSEDecoder, SSEEvent

STREAM = (
    "\ufeff: comment\n"
    "data: {\"a\": 1}\n\n"
    "event: update\nid: 7\nretry: 100\ndata: first\ndata:second\n\n"
    "data: caf\u00e9 \u2028 \u20ac\n\n"
    "data\n\n"
    "data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent('{"a": 1}'),
    SSEEvent("first\nsecond", "update", "7"),
    SSEEvent("caf\u00e9 \u2028 \u20ac", "message", "7"),
    SSEEvent("", "message", "7"),
    SSEEvent("[DONE]", "message", "7"),
]


def decode(raw: bytes, cuts: list[int]) -> list[SSEEvent]:
    decoder, events, start = SSEDecoder(), [], 0
    for cut in [*sorted(set(cuts)), len(raw)]:
        events += decoder.feed(raw[start:cut])
        start = cut
    return events


def test_whole_stream() -> None:
    assert decode(STREAM.encode(), []) == EXPECTED


def test_crlf_and_cr_line_endings() -> None:
    for ending in ("\r\n", "\r"):
        assert decode(STREAM.replace("\n", ending).encode(), []) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM.encode())), max_size=12),
       st.sampled_from(["\n", "\r\n", "\r"]))
def test_any_read_boundaries_give_the_same_events(cuts: list[int], ending: str) -> None:
    raw = STREAM.replace("\n", ending).encode()
    assert decode(raw, [min(c, len(raw)) for c in cuts]) == EXPECTED


def test_crlf_split_between_reads_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"\n") == []  # the \n belongs to the \r: no blank line invented
    assert decoder.feed(b"\r\n") == [SSEEvent("x")]


def test_byte_by_byte_utf8_is_decoded_per_line() -> None:
    raw = "data: \u00e9\u20ac\U0001f600\n\n".encode()
    assert decode(raw, list(range(len(raw)))) == [SSEEvent("\u00e9\u20ac\U0001f600")]


def test_unfinished_event_is_never_dispatched() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: {\"partial\": tru") == []
    assert decoder.mid_event
    assert decoder.feed(b"e}\n") == [] and decoder.mid_event
    assert decoder.feed(b"\n") == [SSEEvent('{"partial": true}')] and not decoder.mid_event
