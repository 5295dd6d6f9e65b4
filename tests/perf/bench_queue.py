"""Benchmark of the review queue: one page, a subject search and a sort over N sealed holds.

A real SQLite store with N held messages whose bodies and subjects are sealed (a master key
and one key file per message), as the gateway stores them. It measures, median of R runs:

- the first page (25 rows: 25 subjects opened);
- a search that must open every subject (and matches one);
- the whole queue sorted by subject;
- the store's read of the held records alone, for comparison.

    .venv/bin/python tests/perf/bench_queue.py [--holds 1000] [--runs 7] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

from gateway.adapters.crypto import Sealer
from gateway.service.queue import QueueQuery, queue_page
from gateway.store.store import HeldFilter, Store, now
from tests.support.held import example_policy, hold


async def timed(work: Callable[[], Awaitable[object]], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def main(holds: int, runs: int) -> dict[str, float]:
    policy = example_policy()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        sealer = Sealer(os.urandom(32), data / "held-keys")
        store = await Store.open(data)
        try:
            for n in range(holds):
                await hold(store, policy, subject=f"Case {n:06d} update", sealer=sealer)
            expiry = dt.timedelta(days=14)

            def page(search: str = "", sort: str = "oldest") -> Callable[[], Awaitable[object]]:
                return lambda: queue_page(store, sealer, QueueQuery(HeldFilter(), search, sort),
                                          now(), expiry)

            figures = {
                "holds": float(holds),
                "first_page_ms": await timed(page(), runs) * 1000,
                "search_subject_ms": await timed(page(f"case {holds // 2:06d}"), runs) * 1000,
                "sort_by_subject_ms": await timed(page(sort="subject"), runs) * 1000,
                "store_read_ms": await timed(
                    lambda: store.find_held(HeldFilter(), limit=holds + 1), runs) * 1000,
            }
        finally:
            await store.close()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holds", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", type=Path, metavar="FILE")
    args = parser.parse_args()
    result = asyncio.run(main(args.holds, args.runs))
    for key, value in result.items():
        print(f"{key:<20} {value:10.1f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
