"""Pure conversions between LlamaIndex's types and the shared client's."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from shared_client import ChatResponse as IndoxChatResponse
from shared_client import CompletionResponse as IndoxCompletionResponse
from shared_client import InvalidParametersError, StreamChunk, Usage
from shared_client.assembly import StreamAssembler, ToolCallAssembler
from shared_client.integration import full_model_name, openai_usage

_ROLES = {
    MessageRole.SYSTEM: "system", MessageRole.DEVELOPER: "system", MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant", MessageRole.CHATBOT: "assistant", MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool", MessageRole.FUNCTION: "tool",
}


def _image_part(block: ImageBlock) -> dict[str, Any]:
    if block.url:
        url = str(block.url)
    else:
        data = block.resolve_image(as_base64=True).read().decode("ascii")
        url = f"data:{block.image_mimetype or 'image/png'};base64,{data}"
    part: dict[str, Any] = {"url": url}
    if block.detail:
        part["detail"] = block.detail
    return {"type": "image_url", "image_url": part}


def _tool_call(block: ToolCallBlock) -> dict[str, Any]:
    arguments = block.tool_kwargs if isinstance(block.tool_kwargs, str) else json.dumps(block.tool_kwargs)
    return {"id": block.tool_call_id or "", "type": "function",
            "function": {"name": block.tool_name, "arguments": arguments}}


def _legacy_tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    """Tool calls kept in ``additional_kwargs`` by older code, as dicts or OpenAI objects."""
    calls = message.additional_kwargs.get("tool_calls") or []
    return [call.model_dump() if hasattr(call, "model_dump") else dict(call) for call in calls]


def to_wire_message(message: ChatMessage) -> dict[str, Any]:
    role = _ROLES.get(message.role)
    if role is None:
        raise InvalidParametersError(f"Message role {message.role.value!r} has no indoxRouter equivalent.")
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append(_image_part(block))
        elif isinstance(block, ToolCallBlock):
            calls.append(_tool_call(block))
        elif isinstance(block, ThinkingBlock):
            continue  # the model's own reasoning is not sent back
        else:
            raise InvalidParametersError(f"{type(block).__name__} content is not supported by indoxRouter chat.")
    calls = calls or _legacy_tool_calls(message)
    text = "".join(texts)
    has_images = any(part["type"] == "image_url" for part in parts)
    wire: dict[str, Any] = {"role": role, "content": parts if has_images and role == "user" else text}
    if role == "assistant" and calls:
        wire["tool_calls"] = calls
        wire["content"] = text or None
    if role == "tool":
        wire["tool_call_id"] = str(message.additional_kwargs.get("tool_call_id", ""))
    name = message.additional_kwargs.get("name")
    if isinstance(name, str) and name and role != "tool":
        wire["name"] = name
    return wire


def to_wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    return [to_wire_message(message) for message in messages]


def usage_kwargs(usage: Usage | None) -> dict[str, Any]:
    return openai_usage(usage) if usage is not None else {}


def raw_body(*, usage: Usage | None, provider: str | None, model: str | None, requested: str,
             finish_reason: str | None, request_id: str | None) -> dict[str, Any]:
    """``ChatResponse.raw``: ``usage`` in the OpenAI form (where TokenCountingHandler reads it),
    plus the cost and the full ``provider/model`` id that answered."""
    raw: dict[str, Any] = {"model": full_model_name(provider, model, requested), "finish_reason": finish_reason,
                           "request_id": request_id}
    if usage is not None:
        raw.update(usage=openai_usage(usage), cost=usage.cost)
    return raw


def assistant_message(text: str, calls: ToolCallAssembler) -> ChatMessage:
    blocks: list[Any] = [TextBlock(text=text)] if text or not calls.calls else []
    blocks += [ToolCallBlock(tool_call_id=call.id or None, tool_name=call.name, tool_kwargs=call.arguments)
               for call in calls.calls]
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks)


def chat_response(data: str, tool_calls: list[dict[str, Any]] | None, raw: dict[str, Any],
                  usage: Usage | None) -> ChatResponse:
    calls = ToolCallAssembler()
    calls.add([{**call, "index": i} for i, call in enumerate(tool_calls or [])])
    return ChatResponse(message=assistant_message(data, calls), raw=raw, additional_kwargs=usage_kwargs(usage))


def completion_response(data: str, raw: dict[str, Any], usage: Usage | None, delta: str | None = None
                        ) -> CompletionResponse:
    return CompletionResponse(text=data, delta=delta, raw=raw, additional_kwargs=usage_kwargs(usage))


def from_chat(response: IndoxChatResponse, requested: str) -> ChatResponse:
    """A whole chat answer of the shared client (sync or async alike) as LlamaIndex's."""
    raw = raw_body(usage=response.usage, provider=response.provider, model=response.model, requested=requested,
                   finish_reason=response.finish_reason, request_id=response.request_id)
    return chat_response(response.data, response.tool_calls, raw, response.usage)


def from_completion(response: IndoxCompletionResponse, requested: str) -> CompletionResponse:
    """A whole text completion of the shared client as LlamaIndex's."""
    raw = raw_body(usage=response.usage, provider=response.provider, model=response.model, requested=requested,
                   finish_reason=response.finish_reason, request_id=response.request_id)
    return completion_response(response.data, raw, response.usage)


class ChatStream:
    """The chunks of one streamed chat answer, one ``ChatResponse`` each: its ``delta``, the
    text so far and every tool call so far. The sync and the async stream both feed it."""

    def __init__(self, requested: str) -> None:
        self._requested = requested
        self._assembler = StreamAssembler()
        self._text = ""

    def response(self, chunk: StreamChunk) -> ChatResponse:
        self._assembler.add(chunk)
        self._text += chunk.data
        return ChatResponse(message=assistant_message(self._text, self._assembler.tool_calls), delta=chunk.data,
                            raw=final_raw(chunk, self._requested), additional_kwargs=usage_kwargs(chunk.usage))


class CompletionStream:
    """The chunks of one streamed completion, one ``CompletionResponse`` each (delta and text so far)."""

    def __init__(self, requested: str) -> None:
        self._requested = requested
        self._text = ""

    def response(self, chunk: StreamChunk) -> CompletionResponse:
        self._text += chunk.data
        return completion_response(self._text, final_raw(chunk, self._requested), chunk.usage, chunk.data)


def final_raw(chunk: StreamChunk, requested: str) -> dict[str, Any]:
    """``raw`` of a streamed chunk: the chunk's JSON, and on the last one usage, cost and model."""
    if chunk.finish_reason is None and chunk.usage is None:
        return {"chunk": chunk.raw}
    body = raw_body(usage=chunk.usage, provider=chunk.provider, model=chunk.model, requested=requested,
                    finish_reason=chunk.finish_reason, request_id=chunk.request_id)
    return {**body, "chunk": chunk.raw}
