"""The connection settings every ``langchain_indox`` class takes, and its client."""

from __future__ import annotations

from typing import Any, TypeVar

from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from shared_client import AsyncClient, Client
from shared_client.integration import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    LazyAsyncClient,
    LazyClient,
    argument_names,
    check_temperature,
    gather_extra_arguments,
)

T = TypeVar("T")


class IndoxConnection(BaseModel):
    """``api_key``, ``base_url``, ``timeout``, ``max_retries`` and optional shared ``client``/``async_client``.

    Constructing makes no request and does not need a key (LangChain's standard
    tests construct models without one); the first call raises
    ``AuthenticationError`` if there is still no key.
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=())

    api_key: SecretStr | None = Field(alias="indox_api_key",
                                      default_factory=secret_from_env(API_KEY_ENV, default=None))
    """The indoxRouter API key; falls back to ``INDOX_ROUTER_API_KEY``."""
    base_url: str | None = Field(default_factory=from_env(BASE_URL_ENV, default=None))
    """The API's base URL; falls back to ``INDOX_ROUTER_BASE_URL``, then the public service."""
    timeout: float | None = DEFAULT_TIMEOUT
    """Seconds to wait for the server (connect, and between reads)."""
    max_retries: int = DEFAULT_MAX_RETRIES
    """Retries of the shared client's policy (docs/protocol.md section 10): the only retry layer."""
    client: Client | None = Field(default=None, exclude=True)
    """A ``shared_client.Client`` to share between several integrations."""
    async_client: AsyncClient | None = Field(default=None, exclude=True)
    """A ``shared_client.AsyncClient`` for the async calls (``ainvoke``, ``astream``, ...) to share
    between several integrations; it belongs to one event loop. Without it, the async calls make
    their own from the settings above, one per event loop, closed when that loop shuts down."""

    _lazy: LazyClient = PrivateAttr(default_factory=LazyClient)

    @model_validator(mode="before")
    @classmethod
    def _unknown_arguments_to_model_kwargs(cls, values: Any) -> Any:
        return gather_extra_arguments(values, argument_names(cls), "model_kwargs", cls.__name__)
    _alazy: LazyAsyncClient = PrivateAttr(default_factory=LazyAsyncClient)

    @property
    def indox_client(self) -> Client:
        """The client calls go through: ``client`` if given, else one made on first use."""
        return self._lazy.get(client=self.client, api_key=self.api_key, base_url=self.base_url,
                              timeout=self.timeout, max_retries=self.max_retries)

    async def _aindox_client(self) -> AsyncClient:
        """The async client calls go through: ``async_client`` if given, else this loop's own, made
        from the settings the sync calls use (a shared ``client``'s own, if one is given)."""
        return await self._alazy.get(async_client=self.async_client, api_key=self.api_key, base_url=self.base_url,
                                     timeout=self.timeout, max_retries=self.max_retries, client=self.client)

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": API_KEY_ENV}

    def __repr_args__(self) -> Any:  # the clients hold no secret, but are noise in a repr
        return [(k, v) for k, v in super().__repr_args__() if k not in ("client", "async_client")]


# Keyword arguments LangChain hands to _generate/_stream that are not request parameters.
_NOT_SENT = ("stream", "ls_structured_output_format", "structured_output_format")


class IndoxModelSettings(IndoxConnection):
    """What ChatIndox and IndoxLLM share: the generation settings and how a call's own
    keyword arguments combine with them."""

    model: str
    """The model, as ``provider/model``."""
    temperature: float = 0.7
    max_tokens: int | None = None
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Stop sequences sent with every call (a call's own ``stop`` replaces them)."""
    streaming: bool = False
    """Stream even from ``invoke``, so callbacks see every token."""
    top_p: float | None = None
    """Nucleus sampling: the probability mass to sample from."""
    seed: int | None = None
    """For providers that can repeat a sample."""
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further parameters sent with every call (an unknown constructor argument lands here, with a warning)."""

    @field_validator("temperature", mode="before")
    @classmethod
    def _temperature_in_range(cls, value: Any) -> Any:
        return check_temperature(value)

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    def _named_params(self) -> dict[str, Any]:
        named = {"top_p": self.top_p, "seed": self.seed, "presence_penalty": self.presence_penalty,
                 "frequency_penalty": self.frequency_penalty}
        return {name: value for name, value in named.items() if value is not None}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "temperature": self.temperature, "max_tokens": self.max_tokens,
                "stop": self.stop, **self._named_params(), **self.model_kwargs}

    def _call_params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The shared client's keyword arguments for one call; per-call values win, then
        ``model_kwargs``, then the named fields."""
        extra = {**self._named_params(), **self.model_kwargs,
                 **{k: v for k, v in kwargs.items() if k not in _NOT_SENT}}
        stop = stop if stop is not None else extra.pop("stop", None) or self.stop
        if stop:
            extra["stop"] = stop
        return {"model": extra.pop("model", self.model), "temperature": extra.pop("temperature", self.temperature),
                "max_tokens": extra.pop("max_tokens", self.max_tokens), **extra}
