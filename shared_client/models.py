"""The typed values the client takes and returns (SURFACE.md, "Response models")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    """One message of a conversation, in the protocol's (OpenAI's) form."""

    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True) | ({"content": None} if self.content is None else {})


class Usage(BaseModel):
    """Tokens and cost of one request, as the router counted them (zeros when it did not say)."""

    tokens_prompt: int = 0
    tokens_completion: int = 0
    tokens_total: int = 0
    cost: float = 0.0
    latency: float = 0.0
    timestamp: datetime | None = None

    @classmethod
    def from_wire(cls, usage: Any) -> Usage:
        """The router's naming (``tokens_prompt``) or OpenAI's (``prompt_tokens``); absent means zeros."""
        if not isinstance(usage, dict):
            return cls.model_validate(usage) if usage is not None else cls()
        fields = {k: v for k, v in usage.items() if v is not None and k in _USAGE_FIELDS}
        for ours, theirs in _OPENAI_USAGE_NAMES:
            if ours not in fields and usage.get(theirs) is not None:
                fields[ours] = usage[theirs]
        if "tokens_total" not in fields:
            fields["tokens_total"] = fields.get("tokens_prompt", 0) + fields.get("tokens_completion", 0)
        return cls.model_validate(fields)


_USAGE_FIELDS = frozenset(Usage.model_fields)
_OPENAI_USAGE_NAMES = (("tokens_prompt", "prompt_tokens"), ("tokens_completion", "completion_tokens"),
                       ("tokens_total", "total_tokens"))


class _Response(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    provider: str
    success: bool = True
    message: str = ""
    usage: Usage = Field(default_factory=Usage)
    raw_response: dict[str, Any] | None = None
    request_id: str | None = None
    created_at: datetime | None = None
    duration_ms: float | None = None


class ChatResponse(_Response):
    """A chat answer: ``data`` is the text, ``tool_calls`` the calls in the OpenAI form."""

    data: str
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class CompletionResponse(ChatResponse):
    """A text completion: the same fields as :class:`ChatResponse`."""


class EmbeddingResponse(_Response):
    """Vectors in input order: ``data[i]`` belongs to the i-th text."""

    data: list[list[float]]
    dimensions: int


class ImageResponse(_Response):
    """Generated images: each item of ``data`` is a URL or a base64 PNG."""

    data: list[str]
    revised_prompts: list[str | None] = Field(default_factory=list)


class ModelInfo(BaseModel):
    """A catalogue entry; ``name`` is the model id, ``f"{provider}/{name}"`` a model string."""

    model_config = ConfigDict(protected_namespaces=())

    name: str
    provider: str
    type: str = "chat"
    description: str = ""
    input_price_per_1k_tokens: float = 0.0
    output_price_per_1k_tokens: float = 0.0
    context_window: int | None = None
    max_output_tokens: int | None = None
    recommended: bool = False
    commercial: bool = False
    pricey: bool = False
    capabilities: list[str] = Field(default_factory=list)
    raw_info: dict[str, Any] = Field(default_factory=dict)

    @property
    def model_id(self) -> str:
        """The ``provider/model`` string that selects this model."""
        return f"{self.provider}/{self.name}"


class StreamChunk(BaseModel):
    """One event of a stream: a text delta, raw tool-call deltas, and on the last one usage.

    ``provider``, ``model`` and ``request_id`` are as the chunk gives them, else ``None``.
    """

    data: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: list[dict[str, Any]] | None = None
    raw: dict[str, Any] = Field(default_factory=dict)
    provider: str | None = None
    model: str | None = None
    request_id: str | None = None
