"""Small helpers several test modules share."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any


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


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """A loop's default executor that counts what is handed to it: an async call that secretly
    ran the sync client in a thread would show here."""

    def __init__(self, max_workers: int = 2) -> None:
        super().__init__(max_workers=max_workers)
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)
