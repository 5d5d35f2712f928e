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

from shared_client import ChatResponse, StreamChunk, Usage
from shared_client.integration import full_model_name

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
