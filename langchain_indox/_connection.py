"""The connection settings every ``langchain_indox`` class takes, and its client."""

from __future__ import annotations

from typing import Any

from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from shared_client import Client
from shared_client._client import API_KEY_ENV, BASE_URL_ENV
from shared_client.integration import LazyClient


class IndoxConnection(BaseModel):
    """``api_key``, ``base_url``, ``timeout``, ``max_retries`` and an optional shared ``client``.

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
    timeout: float | None = 15
    """Seconds to wait for the server (connect, and between reads)."""
    max_retries: int = 2
    """Retries of the shared client's policy (PROTOCOL.md section 9): the only retry layer."""
    client: Client | None = Field(default=None, exclude=True)
    """A ``shared_client.Client`` to share between several integrations."""

    _lazy: LazyClient = PrivateAttr(default_factory=LazyClient)

    @property
    def indox_client(self) -> Client:
        """The client calls go through: ``client`` if given, else one made on first use."""
        return self._lazy.get(client=self.client, api_key=self.api_key, base_url=self.base_url,
                              timeout=self.timeout, max_retries=self.max_retries)

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": API_KEY_ENV}

    def __repr_args__(self) -> Any:  # the client holds no secret, but is noise in a repr
        return [(k, v) for k, v in super().__repr_args__() if k != "client"]
