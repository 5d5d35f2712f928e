"""The local server's catalogue: providers and the models it serves.

Every model here is a deterministic local stand-in (see ``engine/``); the
well-known ids exist so that the documented examples run unchanged offline.
Prices are the public list prices of the real models, so ``cost`` in a usage
record is real arithmetic on the tokens counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CHAT = "chat"
COMPLETION = "completion"
EMBEDDING = "embedding"
IMAGE = "image"

_CHAT_CAPS = ("streaming", "tools", "json_mode", "vision", "completion")


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    description: str


@dataclass(frozen=True)
class Model:
    provider: str
    id: str
    name: str
    type: str
    description: str
    input_price_per_1k_tokens: float
    output_price_per_1k_tokens: float
    context_window: int
    max_output_tokens: int
    capabilities: tuple[str, ...]
    recommended: bool = False
    commercial: bool = True
    pricey: bool = False
    dimensions: int | None = None  # embedding models: default vector length
    price_per_image: float | None = None  # image models
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def full_id(self) -> str:
        return f"{self.provider}/{self.id}"

    def serves(self, endpoint_type: str) -> bool:
        """Whether this model answers on the endpoint of ``endpoint_type``."""
        if endpoint_type == COMPLETION:
            return self.type == COMPLETION or "completion" in self.capabilities
        return self.type == endpoint_type

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "provider": self.provider,
            "type": self.type,
            "description": self.description,
            "input_price_per_1k_tokens": self.input_price_per_1k_tokens,
            "output_price_per_1k_tokens": self.output_price_per_1k_tokens,
            "context_window": self.context_window,
            "max_output_tokens": self.max_output_tokens,
            "capabilities": list(self.capabilities),
            "recommended": self.recommended,
            "commercial": self.commercial,
            "pricey": self.pricey,
            "deterministic": True,
        }
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        if self.price_per_image is not None:
            body["price_per_image"] = self.price_per_image
        body.update(self.extra)
        return body


_STAND_IN = "Local stand-in served by the indoxRouter local server, not the real {real}: "
_CHAT_NOTE = "deterministic extractive answers, rule-based tool calls and JSON output."
_EMBED_NOTE = "deterministic feature-hashing vectors (words and word pairs), L2-normalised."
_IMAGE_NOTE = "deterministic PNG patterns derived from the prompt."


def _chat(provider: str, id: str, name: str, real: str, prices: tuple[float, float],
          context: int, max_out: int, **kw: Any) -> Model:
    return Model(provider, id, name, CHAT, _STAND_IN.format(real=real) + _CHAT_NOTE,
                 prices[0], prices[1], context, max_out, _CHAT_CAPS, **kw)


PROVIDERS: tuple[Provider, ...] = (
    Provider("openai", "OpenAI", "GPT chat, embedding and DALL-E image models (local stand-ins)."),
    Provider("anthropic", "Anthropic", "Claude chat models (local stand-ins)."),
    Provider("huggingface", "Hugging Face", "Open-weight models with namespaced ids (local stand-ins)."),
    Provider("local", "Local", "Models that exist only on the local server."),
)

MODELS: tuple[Model, ...] = (
    _chat("openai", "gpt-4o-mini", "GPT-4o mini", "GPT-4o mini", (0.00015, 0.0006),
          128000, 16384, recommended=True),
    _chat("openai", "gpt-4o", "GPT-4o", "GPT-4o", (0.0025, 0.01), 128000, 16384, pricey=True),
    Model("openai", "gpt-3.5-turbo-instruct", "GPT-3.5 Turbo Instruct", COMPLETION,
          _STAND_IN.format(real="GPT-3.5 Turbo Instruct") + "deterministic extractive completions.",
          0.0015, 0.002, 4096, 4096, ("streaming",)),
    Model("openai", "text-embedding-3-small", "Text Embedding 3 Small", EMBEDDING,
          _STAND_IN.format(real="text-embedding-3-small") + _EMBED_NOTE,
          0.00002, 0.0, 8191, 0, ("dimensions",), recommended=True, dimensions=1536),
    Model("openai", "text-embedding-3-large", "Text Embedding 3 Large", EMBEDDING,
          _STAND_IN.format(real="text-embedding-3-large") + _EMBED_NOTE,
          0.00013, 0.0, 8191, 0, ("dimensions",), dimensions=3072),
    Model("openai", "dall-e-3", "DALL-E 3", IMAGE, _STAND_IN.format(real="DALL-E 3") + _IMAGE_NOTE,
          0.0, 0.0, 4000, 0, (), recommended=True, price_per_image=0.04),
    Model("openai", "dall-e-2", "DALL-E 2", IMAGE, _STAND_IN.format(real="DALL-E 2") + _IMAGE_NOTE,
          0.0, 0.0, 1000, 0, (), price_per_image=0.02),
    _chat("anthropic", "claude-3-haiku", "Claude 3 Haiku", "Claude 3 Haiku", (0.00025, 0.00125),
          200000, 4096, recommended=True),
    _chat("anthropic", "claude-3-5-sonnet", "Claude 3.5 Sonnet", "Claude 3.5 Sonnet",
          (0.003, 0.015), 200000, 8192, pricey=True),
    _chat("huggingface", "meta-llama/Llama-3.1-8B-Instruct", "Llama 3.1 8B Instruct",
          "Llama 3.1 8B Instruct", (0.0001, 0.0001), 131072, 4096, commercial=False),
    _chat("local", "extractive-chat", "Extractive chat", "model (it is the local model itself)",
          (0.0, 0.0), 32768, 4096),
    Model("local", "hash-embedding-256", "Hash embedding 256", EMBEDDING,
          "Local model: " + _EMBED_NOTE, 0.0, 0.0, 8191, 0, ("dimensions",), dimensions=256),
    Model("local", "pattern-image", "Pattern image", IMAGE, "Local model: " + _IMAGE_NOTE,
          0.0, 0.0, 4000, 0, (), price_per_image=0.0),
)


class Catalogue:
    """Look-ups over the providers and models above."""

    def __init__(self, providers: tuple[Provider, ...] = PROVIDERS,
                 models: tuple[Model, ...] = MODELS) -> None:
        self.providers = {p.id: p for p in providers}
        self.models = {m.full_id: m for m in models}

    def provider_capabilities(self, provider_id: str) -> list[str]:
        kinds = {m.type for m in self.models.values() if m.provider == provider_id}
        kinds |= {COMPLETION for m in self.models.values()
                  if m.provider == provider_id and m.serves(COMPLETION)}
        return [k for k in (CHAT, COMPLETION, EMBEDDING, IMAGE) if k in kinds]

    def models_of(self, provider_id: str) -> list[Model]:
        return [m for m in self.models.values() if m.provider == provider_id]
