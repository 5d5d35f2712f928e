"""Everything one local server instance remembers, and its settings."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from .accounts import DEFAULT_API_KEY, DEFAULT_CREDITS, Account, RateLimiter, TokenStore
from .catalogue import Catalogue, Model
from .errors import ServerError, invalid
from .faults import FaultBoard
from .parsing import split_model

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
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


class Journal:
    """The last requests received under ``/v1``, so tests can see exactly what a client sent.

    Bodies are kept up to ``body_limit`` bytes each, so a long benchmark run stays small.
    """

    def __init__(self, capacity: int = 1000, body_limit: int = 256 * 1024) -> None:
        self._entries: deque[tuple[dict[str, Any], bytearray]] = deque(maxlen=capacity)
        self.body_limit = body_limit

    def record(self, scope: MutableMapping[str, Any], receive: Receive) -> Receive:
        entry: dict[str, Any] = {
            "method": scope["method"], "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope.get("headers", [])],
        }
        body = bytearray()
        self._entries.append((entry, body))

        async def recording_receive() -> MutableMapping[str, Any]:
            message = await receive()
            if message.get("type") == "http.request":
                body.extend(message.get("body", b"")[: self.body_limit - len(body)])
            return message

        return recording_receive

    def entries(self) -> list[dict[str, Any]]:
        """Oldest first, each body decoded whole (pieces of a body may split a character)."""
        return [{**entry, "body": body.decode("utf-8", "replace"), "body_truncated": len(body) >= self.body_limit}
                for entry, body in self._entries]

    def clear(self) -> None:
        self._entries.clear()


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
        self.journal = Journal()

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
