"""Small helpers several test modules share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def loop_ticks(interval: float = 0.01) -> AsyncIterator[list[int]]:
    """Counts how often the event loop ran a 10 ms ticker meanwhile: a blocked loop counts nothing."""
    ticks = [0]

    async def tick() -> None:
        while True:
            await asyncio.sleep(interval)
            ticks[0] += 1

    task = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        task.cancel()
