"""The retry policy of docs/protocol.md section 10, as small functions a test can drive.

Why not urllib3's ``Retry``: it rejects a decimal ``Retry-After`` and drops the
error body the caller needs for the final exception, so the loop lives in the
client and asks these functions what to do.
"""

from __future__ import annotations

import random
from collections.abc import Callable

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
MAX_RETRY_AFTER = 60.0


def should_retry(status: int) -> bool:
    return status in RETRYABLE_STATUSES


def backoff_delay(attempt: int, jitter: Callable[[], float] = random.random) -> float:
    """Wait before retry ``attempt`` (0, 1, ...): ``min(0.5 * 2**n, 8)`` times a factor in [0.75, 1]."""
    return min(INITIAL_DELAY * 2.0 ** attempt, MAX_DELAY) * (0.75 + 0.25 * jitter())


def retry_delay(attempt: int, retry_after: float | None,
                jitter: Callable[[], float] = random.random) -> float | None:
    """How long to wait before retrying, or None when the answer's ``Retry-After`` is too long."""
    if retry_after is not None:
        return retry_after if retry_after <= MAX_RETRY_AFTER else None
    return backoff_delay(attempt, jitter)
