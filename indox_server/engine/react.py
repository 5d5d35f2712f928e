"""ReAct-format replies, for agents that ask for tools in the prompt instead of the API.

When the system message lists tools the ReAct way (``> Tool Name: ...``,
``Tool Args: {json schema}``) and asks for ``Action Input:`` lines, the model
answers in that format: ``Thought`` / ``Action`` / ``Action Input`` when the
last user message names a tool (the same rule as ``tool_choice: "auto"``), and
``Thought`` / ``Answer`` with the tool's result once the conversation ends in an
``Observation:``, or with its usual answer when no tool fits.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .text import content_text, extractive_answer
from .tools import choose_tool_calls

_TOOL_RE = re.compile(r"^> Tool Name: (?P<name>.+?)\s*$\n(?:Tool Description: (?P<description>.*?)\s*$\n)?"
                      r"Tool Args: (?P<args>\{.*?\})\s*$", re.MULTILINE | re.DOTALL)
_ACTION_RE = re.compile(r"^Action:\s*(.+?)\s*$", re.MULTILINE)
_OBSERVATION = "Observation:"
ANSWER = "Thought: I can answer without using any more tools. I'll use the user's language to answer\nAnswer: "
USE_TOOL = "Thought: The current language of the user is: English. I need to use a tool to help me answer the question."


def _react_tools(system_text: str) -> list[dict[str, Any]]:
    tools = []
    for match in _TOOL_RE.finditer(system_text):
        try:
            schema = json.loads(match.group("args"))
        except (ValueError, RecursionError):  # not JSON, or nested past the decoder's stack
            schema = {"type": "object", "properties": {}}
        tools.append({"type": "function", "function": {"name": match.group("name"),
                                                       "description": match.group("description") or "",
                                                       "parameters": schema}})
    return tools


def react_reply(messages: list[dict[str, Any]], seed: str) -> str | None:
    """The ReAct-format reply, or None when the conversation is not a ReAct prompt."""
    system = "\n".join(content_text(m.get("content")) for m in messages if m.get("role") == "system")
    if "Action Input:" not in system:
        return None
    tools = _react_tools(system)
    if not tools:
        return None
    last = content_text(messages[-1].get("content"))
    if last.startswith(_OBSERVATION):
        actions = [_ACTION_RE.findall(content_text(m.get("content"))) for m in messages if m.get("role") == "assistant"]
        tool = next((a[-1] for a in reversed(actions) if a), "the tool")
        return f"{ANSWER}{tool} returned: {last[len(_OBSERVATION):].strip()}."
    asked = next((content_text(m.get("content")) for m in reversed(messages)
                  if m.get("role") == "user" and not content_text(m.get("content")).startswith(_OBSERVATION)), last)
    calls = choose_tool_calls(tools, "auto", False, asked, False, seed)
    if not calls:  # answer from the conversation, not from the format instructions
        history = [content_text(m.get("content")) for m in messages[:-1] if m.get("role") in ("user", "tool")]
        return ANSWER + extractive_answer(asked, history)
    function = calls[0]["function"]
    return f"{USE_TOOL}\nAction: {function['name']}\nAction Input: {function['arguments']}"
