"""Everything one local server instance remembers, and its settings."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from .accounts import DEFAULT_API_KEY, DEFAULT_CREDITS, Account, RateLimiter, TokenStore
from .catalogue import Catalogue, Model
from .errors import ServerError, invalid
from .faults import FaultBoard
from .parsing import split_model

_KIND_NAMES = {"chat": "chat", "completion": "text completion", "embedding": "embedding",
               "image": "image generation"}


@dataclass(frozen=True)
class ServerConfig:
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    token_ttl: float = 3600.0
    rate_limit: int = 100_000
    rate_window: float = 60.0
    credits: float = DEFAULT_CREDITS


class ImageStore:
    """PNGs served by URL, the most recent ``capacity`` of them."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._images: OrderedDict[str, bytes] = OrderedDict()

    def put(self, image_id: str, png: bytes) -> None:
        self._images[image_id] = png
        while len(self._images) > self.capacity:
            self._images.popitem(last=False)

    def get(self, image_id: str) -> bytes | None:
        return self._images.get(image_id)


class ServerState:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.catalogue = Catalogue()
        self.accounts: dict[str, Account] = {}
        for number, key in enumerate(dict.fromkeys(config.api_keys), start=1):
            account = Account(id=f"user_{number}", api_key=key, credits=config.credits)
            self.accounts[account.id] = account
        self._by_key = {a.api_key: a for a in self.accounts.values()}
        self.tokens = TokenStore(config.token_ttl)
        self.limiter = RateLimiter(config.rate_limit, config.rate_window)
        self.faults = FaultBoard()
        self.images = ImageStore()

    def account_for_key(self, api_key: str) -> Account | None:
        return self._by_key.get(api_key)

    def resolve_model(self, model: str, endpoint_type: str) -> Model:
        """The catalogue model behind ``provider/model``, if it serves this endpoint."""
        provider, name = split_model(model)
        if provider not in self.catalogue.providers:
            raise ServerError("provider_not_found", f"Provider '{provider}' is not available.")
        found = self.catalogue.models.get(f"{provider}/{name}")
        if found is None:
            raise ServerError("model_not_found", f"Model '{name}' of provider '{provider}' is not available.")
        if not found.serves(endpoint_type):
            raise invalid(f"Model '{model}' is a {_KIND_NAMES[found.type]} model and does not serve "
                          f"{_KIND_NAMES[endpoint_type]} requests.")
        return found
