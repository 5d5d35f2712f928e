"""Everything one local server instance remembers, and its settings."""

from __future__ import annotations

import difflib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from .accounts import DEFAULT_API_KEY, DEFAULT_CREDITS, Account, RateLimiter
from .catalogue import Catalogue, Model, Provider
from .errors import ServerError, invalid
from .faults import FaultBoard
from .journal import Journal
from .parsing import split_model
from .sessions import SessionStore

_KIND_NAMES = {"chat": "a chat", "completion": "a text completion", "embedding": "an embedding",
               "image": "an image generation"}


@dataclass(frozen=True)
class ServerConfig:
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    token_ttl: float = 3600.0
    rate_limit: int = 100_000
    rate_window: float = 60.0
    credits: float = DEFAULT_CREDITS
    minimal: bool = False  # answer like a minimal real server (see ``responses``); switchable at run time


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
        self.sessions = SessionStore(config.token_ttl)
        self.minimal = config.minimal
        self.limiter = RateLimiter(config.rate_limit, config.rate_window)
        self.faults = FaultBoard()
        self.images = ImageStore()
        self.journal = Journal()

    def account_for_key(self, api_key: str) -> Account | None:
        return self._by_key.get(api_key)

    def provider(self, provider_id: str) -> Provider:
        found = self.catalogue.providers.get(provider_id)
        if found is None:
            raise ServerError("provider_not_found", f"Provider '{provider_id}' was not found.")
        return found

    def resolve_model(self, model: str, endpoint_type: str) -> Model:
        """The catalogue model behind ``provider/model``, if it serves this endpoint."""
        provider, name = split_model(model)
        self.provider(provider)
        found = self.catalogue.models.get(f"{provider}/{name}")
        if found is None:
            raise model_not_found(f"{provider}/{name}", self.catalogue.models)
        if not found.serves(endpoint_type):
            raise invalid(f"Model '{model}' is {_KIND_NAMES[found.type]} model and does not serve "
                          f"{_KIND_NAMES[endpoint_type].split(' ', 1)[1]} requests.")
        return found


def model_not_found(model_id: str, known: Iterable[str] = ()) -> ServerError:
    """Names the model and the close matches among ``known`` ids. Worded for the official client's
    rules (docs/protocol.md section 9): never the word "provider", which would make that client
    raise ProviderNotFoundError instead."""
    close = difflib.get_close_matches(model_id, list(known), n=3, cutoff=0.75)
    also = f" Close matches: {', '.join(close)}." if close else ""
    return ServerError("model_not_found", f"Model '{model_id}' was not found.{also}")
