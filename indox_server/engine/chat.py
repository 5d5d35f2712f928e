"""One turn of the local chat and completion model: what it says, and its token counts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import invalid
from ..parsing import ChatRequest, CompletionRequest
from .react import react_reply
from .text import apply_limits, content_text, count_images, count_tokens, extractive_answer
from .tools import choose_tool_calls, json_reply

_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_IMAGE = 85


@dataclass
class Generation:
    """What the model answers: text tokens (to stream one by one) or tool calls."""

    tokens: list[str]
    finish_reason: str
    prompt_tokens: int
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def completion_tokens(self) -> int:
        calls = sum(count_tokens(c["function"]["name"] + c["function"]["arguments"])
                    for c in self.tool_calls)
        return len(self.tokens) + calls


def _prompt_tokens(messages: list[dict[str, Any]], tools: Any) -> int:
    total = _TOKENS_PER_MESSAGE
    for message in messages:
        content = message.get("content")
        total += _TOKENS_PER_MESSAGE + count_tokens(content_text(content))
        total += _TOKENS_PER_IMAGE * count_images(content)
        for call in message.get("tool_calls") or []:
            fn = call.get("function", {})
            total += count_tokens(f"{fn.get('name', '')} {fn.get('arguments', '')}")
    if tools:
        total += count_tokens(json.dumps(tools))
    return total


def _tool_results_answer(messages: list[dict[str, Any]]) -> str:
    """An answer that reports the results of the tool calls that end the conversation."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            names[str(call.get("id"))] = call.get("function", {}).get("name", "the tool")
    results = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        name = names.get(str(message.get("tool_call_id")), "the tool")
        results.append(f"{name} returned: {content_text(message.get('content')).strip()}")
    return " ".join(reversed(results)) + "."


def generate_chat(request: ChatRequest, seed: str) -> Generation:
    messages = request.messages
    extra = request.extra
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    last_user = messages[users[-1]] if users else messages[-1]
    user_text = content_text(last_user.get("content"))
    history = [content_text(m.get("content")) for m in messages
               if m is not last_user and m.get("role") in ("system", "user", "tool")]
    after_tools = messages[-1].get("role") == "tool"
    prompt_tokens = _prompt_tokens(messages, extra.get("tools"))

    tools = extra.get("tools") or []
    if not isinstance(tools, list):
        raise invalid("additional_params.tools must be a list of tools.")
    calls = choose_tool_calls(tools, extra.get("tool_choice"),
                              extra.get("parallel_tool_calls", True) is not False,
                              user_text, after_tools, seed)
    if calls:
        return Generation([], "tool_calls", prompt_tokens, calls)

    if after_tools:
        answer = _tool_results_answer(messages)
    else:
        answer = react_reply(messages, seed) or extractive_answer(user_text, history,
                                                                  count_images(last_user.get("content")))
    answer = json_reply(extra.get("response_format"), user_text, answer) or answer
    tokens, finish = apply_limits(answer, request.stop, request.max_tokens)
    return Generation(tokens, finish, prompt_tokens)


def generate_completion(request: CompletionRequest) -> Generation:
    answer = extractive_answer(request.prompt, [])
    tokens, finish = apply_limits(answer, request.stop, request.max_tokens)
    return Generation(tokens, finish, count_tokens(request.prompt))
