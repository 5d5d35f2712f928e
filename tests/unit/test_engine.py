"""The local models' pure rules: tokens, answers, schema filling, vectors and PNGs."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indox_server.engine.embedding import embed
from indox_server.engine.text import apply_limits, extractive_answer, tokenize
from indox_server.engine.tools import choose_tool_calls, fill_schema


@given(st.text())
def test_tokens_join_back_to_the_text(text: str) -> None:
    assert "".join(tokenize(text)) == text


def test_extractive_answer_rules() -> None:
    context = "Water boils at 100 degrees. Ice melts at zero degrees."
    assert extractive_answer(context + " When does ice melt?", []) == "Ice melts at zero degrees."
    assert extractive_answer("Summarise.", [context]) == "Water boils at 100 degrees."
    assert extractive_answer("What is my name?", ["My name is Bob.", "I like tea."]) == "My name is Bob."
    assert extractive_answer("hello", []).startswith("Hello!")
    assert "no" in extractive_answer("Why is the sky blue?", []).lower()


def test_limits() -> None:
    assert apply_limits("one two three", ["two"], None) == (["one", " "], "stop")
    assert apply_limits("one two three", [], 2) == (["one", " two"], "length")
    assert apply_limits("one two", [], 2) == (["one", " two"], "stop")


def test_schema_filling_follows_refs_any_of_and_arrays() -> None:
    schema = {
        "type": "object",
        "properties": {
            "item": {"$ref": "#/$defs/Item"},
            "scores": {"type": "array", "items": {"type": "number"}},
            "unit": {"anyOf": [{"type": "null"}, {"enum": ["celsius", "fahrenheit"]}]},
            "loud": {"type": "boolean"},
        },
        "required": ["item", "scores", "loud"],
        "$defs": {"Item": {"type": "object", "properties": {"count": {"type": "integer"},
                                                            "label": {"type": "string"}},
                           "required": ["count", "label"]}},
    }
    value = fill_schema(schema, 'Count 3 of "blue pens", scores 1.5 and 2 in fahrenheit')
    assert value == {"item": {"count": 3, "label": "blue pens"}, "scores": [1.5, 2],
                     "unit": "fahrenheit", "loud": False}


def test_tool_choice_auto_needs_a_mention_and_calls_are_deterministic() -> None:
    tools = [{"type": "function", "function": {"name": "generate_image", "parameters": {
        "type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}}}]
    text = "Please draw a picture of a lighthouse at dusk."
    first = choose_tool_calls(tools, "auto", True, text, False, "seed")
    assert json.loads(first[0]["function"]["arguments"]) == {"prompt": "a lighthouse at dusk"}
    assert first == choose_tool_calls(tools, None, True, text, False, "seed")
    assert choose_tool_calls(tools, "auto", True, "How are you?", False, "seed") == []
    assert choose_tool_calls(tools, "auto", True, text, True, "seed") == []


def test_embedding_is_unit_length_and_stable() -> None:
    vector = embed("The quick brown fox", 32)
    assert len(vector) == 32 and math.isclose(sum(x * x for x in vector), 1.0)
    assert vector == embed("the QUICK brown fox!", 32)
    assert math.isclose(sum(x * x for x in embed("", 8)), 1.0)


def test_react_format_replies() -> None:
    from indox_server.engine.react import react_reply

    system = ('Answer using tools.\n> Tool Name: add\nTool Description: Add two integers.\n'
              'Tool Args: {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, '
              '"required": ["a", "b"]}\n\nAction: tool name\nAction Input: the input')
    asked = [{"role": "system", "content": system}, {"role": "user", "content": "Please add 2 and 3."}]
    step = react_reply(asked, "seed")
    assert step is not None and step.endswith('Action: add\nAction Input: {"a": 2, "b": 3}')
    observed = [*asked, {"role": "assistant", "content": step}, {"role": "user", "content": "Observation: 5"}]
    assert react_reply(observed, "seed") == (
        "Thought: I can answer without using any more tools. I'll use the user's language to answer\n"
        "Answer: add returned: 5.")
    assert react_reply([{"role": "user", "content": "Please add 2 and 3."}], "seed") is None


@pytest.mark.parametrize(("question", "tool", "arguments"), [
    ("What is 6.5 times 4?", "multiply", {"a": 6.5, "b": 4}),
    ("What is 2 plus 40?", "add", {"a": 2, "b": 40}),
])
def test_the_documented_synonyms_pick_their_tool(question: str, tool: str, arguments: dict[str, float]) -> None:
    number = {"type": "number"}
    tools = [{"type": "function", "function": {"name": name, "parameters": {
        "type": "object", "properties": {"a": number, "b": number}, "required": ["a", "b"]}}}
        for name in ("add", "multiply")]
    (call,) = choose_tool_calls(tools, "auto", True, question, False, "seed")
    assert call["function"]["name"] == tool and json.loads(call["function"]["arguments"]) == arguments
