"""The connection settings every ``llamaindex_indox`` class takes, and its client."""

from __future__ import annotations

import os
from typing import Any

from llama_index.core.bridge.pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from shared_client import AsyncClient, Client
from shared_client.integration import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    LazyAsyncClient,
    LazyClient,
    argument_names,
    gather_extra_arguments,
)


class IndoxConnection(BaseModel):
    """Mixed into each class (all of them pydantic models through LlamaIndex):
    ``api_key``, ``base_url``, ``timeout``, ``max_retries`` and an optional shared ``client``
    (for the sync methods) and ``async_client`` (for the async ones). Without ``async_client``
    the async methods make their own ``AsyncClient`` from the same settings, one per event loop.

    The key is excluded from ``to_dict()``/``to_json()`` and callback payloads, and is a
    ``SecretStr`` in reprs. Constructing makes no request; the first call raises
    ``AuthenticationError`` if there is no key.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    api_key: SecretStr | None = Field(default=None, exclude=True, validate_default=True,
                                      description="The indoxRouter API key; else INDOX_ROUTER_API_KEY.")
    base_url: str | None = Field(default=None, validate_default=True,
                                 description="The API's base URL; else INDOX_ROUTER_BASE_URL.")
    timeout: float | None = Field(default=DEFAULT_TIMEOUT, description="Seconds to wait for the server.")
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES,
                             description="Retries of the shared client: the only retry layer.")
    client: Client | None = Field(default=None, exclude=True,
                                  description="A shared_client.Client to share between integrations.")
    async_client: AsyncClient | None = Field(
        default=None, exclude=True, description="A shared_client.AsyncClient for the async methods to share.")

    _lazy: LazyClient = PrivateAttr(default_factory=LazyClient)
    _alazy: LazyAsyncClient = PrivateAttr(default_factory=LazyAsyncClient)

    @model_validator(mode="before")
    @classmethod
    def _unknown_arguments_to_additional_kwargs(cls, values: Any) -> Any:
        return gather_extra_arguments(values, argument_names(cls) | {"class_name"}, "additional_kwargs",
                                      cls.__name__)

    @field_validator("api_key", mode="before")
    @classmethod
    def _key_from_env(cls, value: Any) -> Any:
        return value if value is not None else os.environ.get(API_KEY_ENV) or None

    @field_validator("base_url", mode="before")
    @classmethod
    def _base_url_from_env(cls, value: Any) -> Any:
        return value if value is not None else os.environ.get(BASE_URL_ENV) or None

    @property
    def indox_client(self) -> Client:
        """The client calls go through: ``client`` if given, else one made on first use."""
        return self._lazy.get(client=self.client, api_key=self.api_key, base_url=self.base_url,
                              timeout=self.timeout, max_retries=self.max_retries)

    async def aindox_client(self) -> AsyncClient:
        """The client async calls go through: ``async_client`` if given, else this object's
        own for the running event loop (made on its first async call there), with the settings
        of the shared ``client`` if there is one, else with this object's."""
        return await self._alazy.get(async_client=self.async_client, api_key=self.api_key, base_url=self.base_url,
                                     timeout=self.timeout, max_retries=self.max_retries, client=self.client)

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle without shared clients (their locks and sockets stay in this process)."""
        state: dict[Any, Any] = super().__getstate__()
        state["__dict__"] = {**state["__dict__"], "client": None, "async_client": None}
        return state
