"""Tool-call assembly from stream deltas, and half-finished JSON arguments."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from shared_client.assembly import StreamAssembler, ToolCallAssembler, parse_partial_json
from shared_client.models import ChatResponse, StreamChunk, Usage

ARGS = {"city": "Porto", "days": [1, 2], "nested": {"deep": "x\"y"}}


def test_deltas_join_by_index_in_order_of_appearance() -> None:
    calls = ToolCallAssembler()
    text = json.dumps(ARGS)
    calls.add([{"index": 1, "id": "b", "type": "function", "function": {"name": "second", "arguments": ""}}])
    calls.add([{"index": 0, "id": "a", "function": {"name": "first", "arguments": text[:5]}}])
    calls.add([{"index": 0, "function": {"arguments": text[5:]}}, {"index": 1, "function": {"arguments": "{}"}}])
    calls.add(None)
    assert calls.to_wire() == [
        {"id": "b", "type": "function", "function": {"name": "second", "arguments": "{}"}},
        {"id": "a", "type": "function", "function": {"name": "first", "arguments": text}},
    ]


@given(st.integers(min_value=0, max_value=len(json.dumps(ARGS))))
def test_any_prefix_of_arguments_parses_to_a_dict(cut: int) -> None:
    partial = parse_partial_json(json.dumps(ARGS)[:cut])
    assert isinstance(partial, dict)
    assert set(partial) <= set(ARGS)


def test_partial_json_keeps_what_is_complete() -> None:
    assert parse_partial_json('{"city": "Por') == {"city": "Por"}
    assert parse_partial_json('{"a": 1, "b": [1, 2') == {"a": 1, "b": [1, 2]}
    assert parse_partial_json("") == {} and parse_partial_json("[1, 2]") == {}


def test_stream_assembler_builds_the_whole_answer() -> None:
    assembler = StreamAssembler()
    origin = {"provider": "openai", "model": "gpt-4o-mini", "request_id": "req_1"}
    for text in ("Hel", "lo"):
        assembler.add(StreamChunk(data=text, **origin))
    usage = Usage(tokens_prompt=3, tokens_completion=2, tokens_total=5)
    assembler.add(StreamChunk(finish_reason="stop", usage=usage, **origin))
    response = assembler.response(ChatResponse, "openai/gpt-4o-mini")
    assert (response.data, response.finish_reason, response.usage, response.request_id) == (
        "Hello", "stop", usage, "req_1")
