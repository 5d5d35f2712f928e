"""Pure conversions between LangChain's types and the shared client's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    InvalidToolCall,
    ToolCall,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.messages.utils import convert_to_openai_messages
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call
from langchain_core.outputs import (
    ChatGeneration,
    ChatGenerationChunk,
    ChatResult,
    Generation,
    GenerationChunk,
    LLMResult,
)

from shared_client import ChatResponse, CompletionResponse, StreamChunk, Usage
from shared_client.integration import full_model_name, openai_usage

PROVIDER = "indoxrouter"


def to_wire_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages in the protocol's (OpenAI's) form, content blocks included."""
    converted = convert_to_openai_messages(list(messages))
    return converted if isinstance(converted, list) else [converted]


def usage_metadata(usage: Usage) -> UsageMetadata:
    # cast: under mypy's Python 3.10 view, langchain-core's NotRequired detail keys look required
    return cast("UsageMetadata", {"input_tokens": usage.tokens_prompt, "output_tokens": usage.tokens_completion,
                                  "total_tokens": usage.tokens_total})


def response_metadata(*, provider: str | None, model: str | None, requested: str,
                      finish_reason: str | None, request_id: str | None, usage: Usage | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "model_name": full_model_name(provider, model, requested),
        "model_provider": PROVIDER,
        "finish_reason": finish_reason,
        "request_id": request_id,
    }
    if usage is not None:
        metadata["cost"] = usage.cost
    return metadata


def parse_tool_calls(raw_calls: list[dict[str, Any]] | None) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for raw in raw_calls or []:
        try:
            parsed = parse_tool_call(raw, return_id=True)
        except OutputParserException as exc:
            invalid.append(make_invalid_tool_call(raw, str(exc)))
            continue
        if parsed is not None:
            valid.append(parsed)  # type: ignore[arg-type]
    return valid, invalid


def to_ai_message(response: ChatResponse, requested: str) -> AIMessage:
    tool_calls, invalid_tool_calls = parse_tool_calls(response.tool_calls)
    return AIMessage(
        content=response.data,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid_tool_calls,
        usage_metadata=usage_metadata(response.usage),
        response_metadata=response_metadata(
            provider=response.provider, model=response.model, requested=requested,
            finish_reason=response.finish_reason, request_id=response.request_id, usage=response.usage),
        id=response.request_id,
    )


def to_message_chunk(chunk: StreamChunk, requested: str) -> AIMessageChunk:
    """One streamed chunk; the final one (with ``finish_reason``) carries usage and metadata."""
    calls = [
        tool_call_chunk(name=(delta.get("function") or {}).get("name"),
                        args=(delta.get("function") or {}).get("arguments"),
                        id=delta.get("id"),
                        index=delta["index"] if isinstance(delta.get("index"), int) else position)
        for position, delta in enumerate(chunk.tool_calls or []) if isinstance(delta, dict)
    ]
    last = chunk.finish_reason is not None
    metadata: dict[str, Any] = {}
    if last:
        metadata = response_metadata(provider=chunk.provider, model=chunk.model, requested=requested,
                                     finish_reason=chunk.finish_reason, request_id=chunk.request_id,
                                     usage=chunk.usage)
    return AIMessageChunk(
        content=chunk.data,
        tool_call_chunks=calls,
        usage_metadata=usage_metadata(chunk.usage) if chunk.usage is not None else None,
        response_metadata=metadata,
        chunk_position="last" if last else None,
    )


# --- chat (ChatIndox's sync and async paths both end here) -------------------------------------

def to_chat_result(response: ChatResponse, requested: str) -> ChatResult:
    message = to_ai_message(response, requested)
    generation = ChatGeneration(message=message, generation_info={"finish_reason": response.finish_reason})
    return ChatResult(generations=[generation],
                      llm_output={"token_usage": message.usage_metadata,
                                  "model_name": message.response_metadata["model_name"]})


def to_chat_generation_chunk(chunk: StreamChunk, requested: str) -> ChatGenerationChunk:
    info = {"finish_reason": chunk.finish_reason} if chunk.finish_reason else None
    return ChatGenerationChunk(message=to_message_chunk(chunk, requested), generation_info=info)


# --- text completion (IndoxLLM's sync and async paths) ----------------------------------------

Answer = tuple[str, dict[str, Any]]
"""One prompt's text and what the answer told about it (finish reason, tokens, cost, model)."""


def completion_info(finish_reason: str | None, usage: Usage | None, model_name: str) -> dict[str, Any]:
    """What the last chunk (or the whole answer) tells: why it ended, tokens, cost, model."""
    info: dict[str, Any] = {"finish_reason": finish_reason, "model_name": model_name}
    if usage is not None:
        info.update(token_usage=openai_usage(usage), cost=usage.cost)
    return info


def completion_answer(response: CompletionResponse, requested: str) -> Answer:
    return response.data, completion_info(response.finish_reason, response.usage,
                                          full_model_name(response.provider, response.model, requested))


def to_generation_chunk(chunk: StreamChunk, requested: str) -> GenerationChunk:
    """One streamed piece of text; the final one carries ``completion_info``."""
    info: dict[str, Any] | None = None
    if chunk.finish_reason is not None:
        info = completion_info(chunk.finish_reason, chunk.usage,
                               full_model_name(chunk.provider, chunk.model, requested))
    return GenerationChunk(text=chunk.data, generation_info=info)


def streamed_answer(joined: GenerationChunk | None) -> Answer:
    """The answer of a stream, from the sum of its chunks."""
    if joined is None:
        return "", {}
    return joined.text, dict(joined.generation_info or {})


def to_llm_result(answers: Sequence[Answer], model: str) -> LLMResult:
    """One generation per prompt; usage and cost summed in ``llm_output``."""
    generations: list[list[Generation]] = []
    totals = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    cost, model_name = 0.0, model
    for text, answer_info in answers:
        info = dict(answer_info)
        for key, value in info.pop("token_usage", {}).items():
            totals[key] += value
        cost += info.pop("cost", 0.0)
        model_name = info.pop("model_name", model_name)
        generations.append([Generation(text=text, generation_info=info)])
    return LLMResult(generations=generations,
                     llm_output={"token_usage": totals, "model_name": model_name, "cost": cost})
