"""Accounts, usage ledgers and rate limits of the local server (sessions are in ``sessions``)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_API_KEY = "indox-local-key"
DEFAULT_CREDITS = 100.0


@dataclass
class ModelUsage:
    requests: int = 0
    tokens: int = 0
    cost: float = 0.0


@dataclass
class Account:
    """One API key's user: its profile, credits and what it has been served."""

    id: str
    api_key: str
    credits: float
    email: str = "local@indoxrouter.invalid"
    name: str = "Local User"
    plan: str = "local"
    total_requests: int = 0
    total_tokens: int = 0
    total_cost: float = 0.0
    by_model: dict[str, ModelUsage] = field(default_factory=dict)

    @property
    def remaining_credits(self) -> float:
        return self.credits - self.total_cost

    def record(self, model: str, tokens: int, cost: float) -> None:
        self.total_requests += 1
        self.total_tokens += tokens
        self.total_cost += cost
        entry = self.by_model.setdefault(model, ModelUsage())
        entry.requests += 1
        entry.tokens += tokens
        entry.cost += cost

    def usage_body(self) -> dict[str, Any]:
        return {
            "total_requests": self.total_requests,
            "total_tokens": self.total_tokens,
            "total_cost": self.total_cost,
            "remaining_credits": self.remaining_credits,
            "by_model": {k: vars(v).copy() for k, v in sorted(self.by_model.items())},
        }

    def info_body(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "name": self.name, "plan": self.plan,
                "credits": self.remaining_credits}


@dataclass
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"x-ratelimit-limit", str(self.limit).encode()),
                (b"x-ratelimit-remaining", str(self.remaining).encode()),
                (b"x-ratelimit-reset", str(math.ceil(self.reset_at)).encode())]


class RateLimiter:
    """A fixed window of ``limit`` requests every ``window`` seconds per caller."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._windows: dict[str, tuple[float, int]] = {}

    def check(self, caller: str) -> RateDecision:
        now = time.time()
        start, used = self._windows.get(caller, (now, 0))
        if now - start >= self.window:
            start, used = now, 0
        allowed = used < self.limit
        if allowed:
            used += 1
        self._windows[caller] = (start, used)
        return RateDecision(allowed, self.limit, self.limit - used, start + self.window)
