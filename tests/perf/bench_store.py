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
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

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


TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _postgres_seconds() -> float:
    """CPU of every PostgreSQL process on the machine so far (the server runs here)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() != "postgres":
                        continue
            except OSError:
                continue
            total += _cpu_seconds(int(entry))
    return total


class Run(NamedTuple):
    rate: float  # messages accepted per second
    gateway_ms: float  # CPU per message: the gateways'
    postgres_ms: float  # and the PostgreSQL server's


def _run(target: str, path: str, work: Path, database: TestDatabase,
         downstream: SinkDownstream | Downstream, count: int, sessions: int) -> Run:
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
        pids = [g.proc.pid for g in gateways if g.proc is not None]
        if isinstance(downstream, SinkDownstream):
            _source(ports, path, work, 20, min(sessions, 4))  # warm
            sink = downstream.sink
            before = sink.settle()
            cpu = sum(map(_cpu_seconds, pids)), _postgres_seconds()
            accepted, seconds = _source(ports, path, work, count, sessions)
            expected = before + (count if path == "relay" else 0)
            if sink.wait_for(expected, 30) != expected or sink.settle() != expected:
                raise SystemExit(f"{target} {path}: the sink has {sink.count - before} "
                                 f"messages of this run, not {expected - before}")
        else:
            rcpt, body = PATHS[path]
            asyncio.run(_send(ports, rcpt, body, 20, min(sessions, 4)))  # warm
            cpu = sum(map(_cpu_seconds, pids)), _postgres_seconds()
            accepted, seconds = asyncio.run(_send(ports, rcpt, body, count, sessions))
        if accepted != count:
            raise SystemExit(f"{target} {path}: {count - accepted} of {count} not accepted")
        # Read after the sink check: what a gateway did for the last messages is counted.
        gateway_cpu = sum(map(_cpu_seconds, pids)) - cpu[0]
        postgres_cpu = _postgres_seconds() - cpu[1]
        return Run(count / seconds, gateway_cpu / count * 1000,
                   postgres_cpu / count * 1000 if url else 0.0)
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
    runs: dict[str, dict[str, list[Run]]] = {p: {t: [] for t in TARGETS} for p in paths}
    try:
        with tempfile.TemporaryDirectory(prefix="stampgate-bench-store-") as tmp:
            for round_number in range(args.rounds):
                for path in paths:
                    for target in TARGETS:
                        run = _run(target, path, Path(tmp), database, downstream,
                                   args.count, args.sessions)
                        runs[path][target].append(run)
                        print(f"round {round_number + 1} {path:<5} {target:<13} "
                              f"{run.rate:7.1f} msgs/s, CPU per message: gateway "
                              f"{run.gateway_ms:.2f} ms, PostgreSQL {run.postgres_ms:.2f} ms",
                              file=sys.stderr, flush=True)
    finally:
        downstream.stop()
        database.drop()
    print(f"\n{args.count} messages of 5 KB per run, {args.sessions} sessions "
          f"({args.client}), median of {args.rounds} rounds (msgs/s; ratio to SQLite)\n")
    print("| path | SQLite, 1 gateway | PostgreSQL, 1 gateway | PostgreSQL, 2 gateways |")
    print("|---|---|---|---|")
    for path, by_target in runs.items():
        rates = {t: statistics.median(r.rate for r in by_target[t]) for t in TARGETS}
        cells = [f"{rates[t]:.1f}" + ("" if t == "sqlite" else
                                      f" ({rates[t] / rates['sqlite']:.2f}x)")
                 for t in TARGETS]
        print(f"| {path} | " + " | ".join(cells) + " |")
    print("\nCPU per message (ms, median): the gateways' / the PostgreSQL server's\n")
    print("| path | SQLite, 1 gateway | PostgreSQL, 1 gateway | PostgreSQL, 2 gateways |")
    print("|---|---|---|---|")
    for path, by_target in runs.items():
        cells = [f"{statistics.median(r.gateway_ms for r in by_target[t]):.2f}"
                 + ("" if t == "sqlite" else
                    f" / {statistics.median(r.postgres_ms for r in by_target[t]):.2f}")
                 for t in TARGETS]
        print(f"| {path} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(
            {p: {t: [r._asdict() for r in rs] for t, rs in by.items()} for p, by in runs.items()},
            indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
