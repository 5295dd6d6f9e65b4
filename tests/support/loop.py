"""Whether the event loop went on running while a test awaited something."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass
class Ticks:
    """How many times a task woke on its timer meanwhile."""

    count: int = 0


@contextlib.asynccontextmanager
async def ticking(interval: float = 0.01) -> AsyncIterator[Ticks]:
    """Count a task's wake-ups every ``interval`` seconds while the block runs: a loop held
    by a blocking call counts none."""
    ticks = Ticks()

    async def tick() -> None:
        while True:
            await asyncio.sleep(interval)
            ticks.count += 1

    ticker = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
