"""Same-run A/B of the relay with and without a protected-client register.

Two gateways run side by side, one with an empty register and one with ``--register N``
clients (6 values each, as ``scripts/bench --register``), both relaying to one sink. Each
round sends a batch of scripts/bench's 5 KB message to each in turn (the order alternates
per round), so both see the same load from other processes on a shared machine. Reported
per number of sessions: the accept rate (median of the rounds), the gateway's CPU per
message (all its processes, over every round), and the RSS of each gateway process after
the runs. A gateway built from another checkout can join with ``--also NAME=DIR`` (its
``gateway`` package is taken from DIR through PYTHONPATH; it reads the same ``--policies``,
so a checkout that does not know this one's policy format cannot join).

    .venv/bin/python tests/perf/bench_register_ab.py [--register 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import CLEARED, RELAY_TO, register_csv, smtp_source
from loadgen import make_message, write_source_file
from procs import cpu_times
from servers import BenchError, Gateway, Sink

COUNTS = {1: 300, 10: 600}  # messages per gateway per batch
SETTLE_SECONDS = 60.0


def relayed(gateway: Gateway) -> int:
    return gateway.events()["message:relayed"]


def batch(gateway: Gateway, path: Path, sessions: int,
          count: int) -> tuple[float, float, float]:
    """(seconds, gateway CPU seconds, machine busy fraction) of one batch."""
    before, cpu0, machine0 = relayed(gateway), gateway.tree.cpu_seconds(), cpu_times()
    seconds = smtp_source(gateway.port, path, sessions, count)  # new recipients each batch
    deadline = time.monotonic() + SETTLE_SECONDS
    while relayed(gateway) < before + count:
        if time.monotonic() > deadline:
            raise BenchError(f"{relayed(gateway) - before} of {count} relayed")
        time.sleep(0.02)
    machine1 = cpu_times()
    busy = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1])
    return seconds, gateway.tree.cpu_seconds() - cpu0, busy


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--register", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", default="1,10")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--also", action="append", default=[], metavar="NAME=DIR",
                        help="another gateway with the register, its package from DIR")
    parser.add_argument("--stampgate", type=Path,
                        default=Path(sys.executable).parent / "stampgate")
    parser.add_argument("--policies", type=Path,
                        default=Path(__file__).resolve().parents[2] / "policies")
    args = parser.parse_args()
    sessions_list = [int(s) for s in args.sessions.split(",")]
    with tempfile.TemporaryDirectory(prefix="stampgate-register-ab-") as tmp:
        work = Path(tmp)
        path = write_source_file(make_message(5 * 1024, CLEARED, [RELAY_TO]),
                                 work / "message-5k.eml")
        csv_path = register_csv(work, args.register)
        # Several gateways at once: none of them serves the web UI (it has one fixed port).
        config = work / "stampgate.toml"
        config.write_text('web_listen = ""\n')
        stampgate = work / "stampgate"
        stampgate.write_text('#!/bin/sh\nif [ "$1" = serve ]; then exec "$STAMPGATE_BIN" "$@" '
                             f'--config {config}; fi\nexec "$STAMPGATE_BIN" "$@"\n')
        stampgate.chmod(0o755)
        os.environ["STAMPGATE_BIN"] = str(args.stampgate)
        sink = Sink()
        gateways: dict[str, Gateway] = {}
        try:
            gateways["without"] = Gateway(stampgate, args.policies, sink.port,
                                          args.workers)
            gateways["with"] = Gateway(stampgate, args.policies, sink.port,
                                       args.workers, register=csv_path)
            for also in args.also:
                name, _, directory = also.partition("=")
                saved = os.environ.get("PYTHONPATH")
                os.environ["PYTHONPATH"] = directory
                try:
                    gateways[name] = Gateway(stampgate, args.policies, sink.port,
                                             args.workers, register=csv_path)
                finally:
                    if saved is None:
                        os.environ.pop("PYTHONPATH", None)
                    else:
                        os.environ["PYTHONPATH"] = saved
            for gateway in gateways.values():
                gateway.wait_ready(180)
            print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
            for gateway in gateways.values():  # warm-up
                batch(gateway, path, 10, 200)
            results: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
            names = list(gateways)
            for round_no in range(args.rounds):
                for sessions in sessions_list:
                    order = names[round_no % len(names):] + names[:round_no % len(names)]
                    for name in order:
                        gateway = gateways[name]
                        try:
                            results.setdefault((name, sessions), []).append(
                                batch(gateway, path, sessions, COUNTS.get(sessions, 600)))
                        except BenchError as exc:
                            print(f"round {round_no + 1}, {name}, {sessions} sessions: {exc}")
                print(f"round {round_no + 1} done; load {Path('/proc/loadavg').read_text()[:15]}")
            print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")
            print("| sessions | gateway | msgs/s (median) | CPU ms/msg | machine busy | batches |")
            print("|---|---|---|---|---|---|")
            for sessions in sessions_list:
                for name in names:
                    runs = results.get((name, sessions), [])
                    if not runs:
                        continue
                    count = COUNTS.get(sessions, 600)
                    rate = statistics.median(count / s for s, _, _ in runs)
                    cpu = 1000 * sum(c for _, c, _ in runs) / (count * len(runs))
                    busy = statistics.median(b for _, _, b in runs)
                    print(f"| {sessions} | {name} | {rate:.0f} | {cpu:.2f} | "
                          f"{100 * busy:.0f}% | {len(runs)} |")
            print("| gateway | RSS per process (MB) | PSS total (MB) |")
            print("|---|---|---|")
            for name, gateway in gateways.items():
                snap = gateway.tree.snapshot()
                per = ", ".join(f"{kb / 1024:.0f}" for kb in snap.rss_by_pid)
                print(f"| {name} | {per} | {snap.pss_kb / 1024:.0f} |")
        finally:
            for gateway in gateways.values():
                with contextlib.suppress(Exception):
                    gateway.close()
            sink.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
