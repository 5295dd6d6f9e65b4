"""Hold-path and relay-path rate on the SQLite store and on PostgreSQL, same run.

``scripts/bench --stores`` runs it (not a timed test). Each round starts, per target, a real
gateway process (``--workers 1``) relaying over loopback to a downstream, sends ``--count``
5 KB messages from ``--sessions`` concurrent SMTP sessions, and measures accepted messages
per second. Targets: one gateway on SQLite, one on PostgreSQL, and two gateways sharing
PostgreSQL (half the sessions to each). Rounds interleave the targets; the report gives the
median per target and the ratios to SQLite. PostgreSQL is the machine's
(``STAMPGATE_TEST_POSTGRES``); each target gets a fresh schema in a database made for the run.

The client and the downstream are Postfix's ``smtp-source`` and ``smtp-sink`` (a new session
per message, as in ``bench.py``): written in C, they leave the two cores to the gateway and
PostgreSQL. ``--client aiosmtplib`` sends from Python sessions that each send many messages,
to a recording downstream in the same process (the harness of the figures before it).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiosmtplib

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "perf"))

from loadgen import make_message, write_source_file  # noqa: E402
from servers import LOOPBACK, Sink  # noqa: E402

from tests.support.downstream import Downstream  # noqa: E402
from tests.support.gateway import GatewayProcess, message  # noqa: E402
from tests.support.postgres import TestDatabase  # noqa: E402

FILLER = "The caseworker's notes on the appointment follow in the attached summary.\n" * 70
PATHS = {
    # Held for the partner: the sealed body, its decision and audit entry are stored.
    "hold": ("partner@outside.test", "Needs adjustment: blur face\n\n" + FILLER),
    # Relayed inside the organisation: the thread memory is written, the message delivered.
    "relay": ("bob@example.org", "Cleared for publication\n\n" + FILLER),
}
TARGETS = ("sqlite", "postgresql", "postgresql-2")
# A run that has not finished in this time is stopped: a stuck gateway cannot hang the bench.
RUN_DEADLINE = 300.0
RUNS = itertools.count(1)


class SinkDownstream:
    """``smtp-sink`` as the gateways' downstream; counts what reached it."""

    def __init__(self) -> None:
        self.sink = Sink()
        self.url = f"smtp://{LOOPBACK}:{self.sink.port}"

    def stop(self) -> None:
        self.sink.close()


def _source(ports: Sequence[int], path: str, work: Path, count: int,
            sessions: int) -> tuple[int, float]:
    """``smtp-source`` runs, one per port at once, sharing ``count`` and ``sessions``; each
    message has a recipient of its own (``-N`` numbers them), so none is a retry of
    another. Messages accepted (all, or the run fails) and seconds taken."""
    rcpt, body = PATHS[path]
    stamp, _, _ = body.partition("\n")
    file = work / f"{path}.eml"
    if not file.exists():
        write_source_file(make_message(5 * 1024, stamp, [rcpt]), file)
    run = next(RUNS)
    started = time.perf_counter()
    runs = []
    for i, port in enumerate(ports):
        share = count // len(ports) + (i < count % len(ports))
        runs.append(subprocess.Popen(
            ["smtp-source", "-N", "-s", str(max(1, sessions // len(ports))), "-m", str(share),
             "-F", str(file), "-f", "alice@example.org", "-t", f"r{run}p{i}-{rcpt}",
             "-M", "bench-client.localdomain", f"{LOOPBACK}:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for process in runs:
        output, _ = process.communicate(timeout=RUN_DEADLINE)
        if process.returncode != 0:
            raise SystemExit(f"smtp-source failed ({process.returncode}): {output[:300]}")
    return count, time.perf_counter() - started


async def _send(ports: Sequence[int], rcpt: str, body: str, count: int,
                sessions: int) -> tuple[int, float]:
    """Messages accepted (250) and seconds taken; sessions share the ports round robin."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    accepted = 0

    async def session(port: int) -> None:
        nonlocal accepted
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60) as smtp:
            while not queue.empty():
                n = queue.get_nowait()
                mid = f"<bench-{n}-{time.time_ns()}@example.org>"
                data = message(body, to=rcpt, message_id=mid)
                errors, _ = await smtp.sendmail("alice@example.org", [rcpt], data)
                accepted += not errors

    started = time.perf_counter()
    async with asyncio.timeout(RUN_DEADLINE):
        await asyncio.gather(*(session(ports[i % len(ports)]) for i in range(sessions)))
    return accepted, time.perf_counter() - started


def _run(target: str, path: str, work: Path, database: TestDatabase,
         downstream: SinkDownstream | Downstream, count: int, sessions: int) -> float:
    url = "" if target == "sqlite" else database.new_schema()
    instances = 2 if target.endswith("-2") else 1
    gateways = []
    for i in range(instances):
        extra = ["--workers", "1"] + (["--store", url] if url else [])
        gateways.append(GatewayProcess(work / f"{target}-{path}-{i}-{time.time_ns()}",
                                       downstream.url, extra_args=extra))
    try:
        for gateway in gateways:
            gateway.start()
        ports = [g.port for g in gateways]
        if isinstance(downstream, SinkDownstream):
            _source(ports, path, work, 20, min(sessions, 4))  # warm
            sink = downstream.sink
            before = sink.settle()
            accepted, seconds = _source(ports, path, work, count, sessions)
            expected = before + (count if path == "relay" else 0)
            if sink.wait_for(expected, 30) != expected or sink.settle() != expected:
                raise SystemExit(f"{target} {path}: the sink has {sink.count - before} "
                                 f"messages of this run, not {expected - before}")
        else:
            rcpt, body = PATHS[path]
            asyncio.run(_send(ports, rcpt, body, 20, min(sessions, 4)))  # warm
            accepted, seconds = asyncio.run(_send(ports, rcpt, body, count, sessions))
        if accepted != count:
            raise SystemExit(f"{target} {path}: {count - accepted} of {count} not accepted")
        return count / seconds
    finally:
        for gateway in gateways:
            gateway.stop()
        if isinstance(downstream, Downstream):
            downstream.clear()


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=600, help="messages per run (600)")
    parser.add_argument("--sessions", type=int, default=10, help="concurrent sessions (10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per target (3)")
    parser.add_argument("--paths", default="hold,relay", help="hold,relay (both)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write all results")
    parser.add_argument("--client", choices=("smtp-source", "aiosmtplib"),
                        default="smtp-source",
                        help="the load generator and downstream (smtp-source with smtp-sink)")
    args = parser.parse_args(argv)
    database = TestDatabase().create()
    downstream: SinkDownstream | Downstream = (SinkDownstream() if args.client == "smtp-source"
                               else Downstream().start())
    paths = [p for p in args.paths.split(",") if p]
    if not set(paths) <= set(PATHS):
        parser.error(f"--paths: choose from {', '.join(PATHS)}")
    rates: dict[str, dict[str, list[float]]] = {p: {t: [] for t in TARGETS} for p in paths}
    try:
        with tempfile.TemporaryDirectory(prefix="stampgate-bench-store-") as tmp:
            for round_number in range(args.rounds):
                for path in paths:
                    for target in TARGETS:
                        rate = _run(target, path, Path(tmp), database, downstream,
                                    args.count, args.sessions)
                        rates[path][target].append(rate)
                        print(f"round {round_number + 1} {path:<5} {target:<13} "
                              f"{rate:7.1f} msgs/s", file=sys.stderr, flush=True)
    finally:
        downstream.stop()
        database.drop()
    print(f"\n{args.count} messages of 5 KB per run, {args.sessions} sessions "
          f"({args.client}), median of {args.rounds} rounds (msgs/s; ratio to SQLite)\n")
    print("| path | SQLite, 1 gateway | PostgreSQL, 1 gateway | PostgreSQL, 2 gateways |")
    print("|---|---|---|---|")
    for path, by_target in rates.items():
        base = statistics.median(by_target["sqlite"])
        cells = [f"{statistics.median(by_target[t]):.1f}"
                 + ("" if t == "sqlite" else f" ({statistics.median(by_target[t]) / base:.2f}x)")
                 for t in TARGETS]
        print(f"| {path} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rates, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
