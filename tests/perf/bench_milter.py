"""Postfix alone against Postfix asking ``stampgate milter``, in the same benchmark run.

Both Postfix instances relay to the benchmark's sink with stock settings; the second one has
``smtpd_milters`` pointing at a ``stampgate milter`` process (``milter_default_action =
tempfail``). The same Cleared 5 KB message goes to each, the instances taking turns round by
round: the accept rate with ``smtp-source``, the accept latency at one session, and the
milter's own time per message from its log. Every message must reach the sink and be logged
by the milter as relayed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadgen import Job, make_message, run_sessions
from procs import ProcessTree
from servers import LOOPBACK, BenchError, Postfix, _stop, free_port, wait_for_port

if TYPE_CHECKING:
    from bench import Bench

ALONE, WITH_MILTER = "Postfix alone", "Postfix + stampgate milter"


class MilterProcess:
    """``stampgate milter`` on a loopback port, with a fresh data directory."""

    def __init__(self, executable: Path, policies: Path, release_port: int) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="bench-milter-"))
        self.log_path = self.root / "milter.log"
        command = [str(executable), "milter", "--listen", f"inet:{LOOPBACK}:{self.port}",
                   "--downstream", f"smtp://{LOOPBACK}:{release_port}",
                   "--policies", str(policies), "--data", str(self.root / "data")]
        config = self.root / "stampgate.toml"
        config.write_text('web_listen = ""\nnotify_mode = "off"\n')
        command += ["--config", str(config)]
        self._log = self.log_path.open("wb")
        # As a service runs it: one write per log line, so two workers' lines do not mix.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self._log,
                                        cwd=self.root, env=env)
        self.tree = ProcessTree(self.process.pid)
        wait_for_port(self.port, 60, self.process, "stampgate milter")

    def messages(self) -> list[dict[str, Any]]:
        """The ``message`` log entries, also where two workers' lines ran together."""
        out = []
        decoder = json.JSONDecoder()
        for line in self.log_path.read_text(errors="replace").splitlines():
            at = 0
            while (start := line.find("{", at)) >= 0:
                try:
                    entry, at = decoder.raw_decode(line, start)
                except ValueError:
                    at = start + 1
                    continue
                if isinstance(entry, dict) and entry.get("event") == "message":
                    out.append(entry)
        return out

    def close(self) -> None:
        _stop(self.process, 30)
        self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)


def milter_part(bench: Bench, smtp_source: Callable[[int, Path, int, int], float], count: int,
                sessions: int, rounds: int, latency_count: int) -> dict[str, Any]:
    """The rates, latencies and milter times of both, checked message by message."""
    assert bench.postfix is not None
    release = free_port()  # releases would come back here; none in this run
    milter = MilterProcess(bench.args.stampgate, bench.args.policies, release)
    filtered = Postfix(bench.sink.port, settings={
        "smtpd_milters": f"inet:{LOOPBACK}:{milter.port}",
        "milter_default_action": "tempfail", "milter_protocol": "6"})
    try:
        filtered.start()
        ports = {ALONE: bench.postfix.port, WITH_MILTER: filtered.port}
        trees = {ALONE: bench.postfix.tree, WITH_MILTER: filtered.tree}
        source = bench.source_file(5)
        rates: dict[str, list[float]] = {ALONE: [], WITH_MILTER: []}
        cpu: dict[str, float] = {ALONE: 0.0, WITH_MILTER: 0.0}
        milter_cpu = 0.0
        names = list(ports)
        for round_no in range(rounds + 1):  # round 0 warms both up
            bench.wait_until_quiet()
            for name in names[round_no % 2:] + names[:round_no % 2]:
                bench.settle_sink(60)
                tree = trees[name]
                cpu_before = tree.cpu_seconds() if tree else 0.0
                milter_before = milter.tree.cpu_seconds()
                seconds = smtp_source(ports[name], source, sessions, count)
                bench.direct_and_postfix += count
                bench.settle_sink(300)
                if round_no == 0:
                    continue
                rates[name].append(count / seconds)
                cpu[name] += (tree.cpu_seconds() - cpu_before) if tree else 0.0
                if name == WITH_MILTER:
                    milter_cpu += milter.tree.cpu_seconds() - milter_before
                bench_log(f"milter part round {round_no} {name:<27} {count} msgs in "
                          f"{seconds:6.2f} s = {count / seconds:7.1f}/s")
        latency = _latency(bench, ports, latency_count)
        entries = milter.messages()
        relayed = sum(1 for e in entries if e.get("outcome") == "relayed")
        expected = (rounds + 1) * count + latency_count + 20
        if relayed != expected or len(entries) != expected:
            raise BenchError(f"milter part: the milter logged {relayed} relayed of "
                             f"{len(entries)} decisions for {expected} messages sent")
        ms = sorted(float(e["ms"]) for e in entries if isinstance(e.get("ms"), int | float))
        measured = rounds * count
        return {
            "messages_per_run": count, "sessions": sessions, "rounds": rounds,
            "rate": {k: statistics.median(v) for k, v in rates.items()},
            "rate_range": {k: (min(v), max(v)) for k, v in rates.items()},
            "postfix_cpu_ms_per_msg": {k: 1000 * v / measured for k, v in cpu.items()},
            "milter_cpu_ms_per_msg": 1000 * milter_cpu / measured,
            "milter_ms_p50": ms[len(ms) // 2], "milter_ms_p99": ms[int(len(ms) * 0.99)],
            "milter_ms_max": ms[-1], "latency": latency,
        }
    finally:
        filtered.close()
        milter.close()


def _latency(bench: Bench, ports: dict[str, int], count: int) -> dict[str, dict[str, float]]:
    """Connect to the reply after the final dot, one session, the two interleaved."""
    job = Job("relay", ("bob@example.org",),
              make_message(5 * 1024, "Cleared for publication", ["bob@example.org"]))
    times: dict[str, list[float]] = {name: [] for name in ports}

    async def measure() -> None:
        for i in range(count + 20):
            for name, port in (ports.items() if i % 2 == 0 else reversed(ports.items())):
                results, _ = await run_sessions(LOOPBACK, port, [job], 1, 60)
                if results[0].code != 250:
                    raise BenchError(f"milter latency: {name} answered {results[0].code}")
                if i >= 20:
                    times[name].append(results[0].accept_s)

    asyncio.run(measure())
    bench.direct_and_postfix += (count + 20) * len(ports)
    bench.settle_sink(300)
    return {name: {"p50_ms": 1000 * statistics.median(v),
                   "p95_ms": 1000 * sorted(v)[int(len(v) * 0.95)]} for name, v in times.items()}


def bench_log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def milter_report(m: dict[str, Any]) -> str:
    alone, both = m["rate"][ALONE], m["rate"][WITH_MILTER]
    lines = [f"Postfix alone and Postfix + stampgate milter, same run: 5 KB Cleared, "
             f"{m['sessions']} sessions, {m['messages_per_run']} msgs per run, median of "
             f"{m['rounds']} rounds (smtp-source; every message counted at the sink):", "",
             "| target | msgs/s | min-max | vs Postfix alone | Postfix CPU ms/msg "
             "| milter CPU ms/msg | accept p50 / p95 ms (1 session) |",
             "|---|---|---|---|---|---|---|"]
    for name, rate in ((ALONE, alone), (WITH_MILTER, both)):
        low, high = m["rate_range"][name]
        milter_cpu = f"{m['milter_cpu_ms_per_msg']:.2f}" if name == WITH_MILTER else "-"
        lat = m["latency"][name]
        lines.append(f"| {name} | {rate:.0f} | {low:.0f}-{high:.0f} | "
                     f"{rate / alone:.2f}x | {m['postfix_cpu_ms_per_msg'][name]:.2f} | "
                     f"{milter_cpu} | {lat['p50_ms']:.2f} / {lat['p95_ms']:.2f} |")
    lines += ["", f"The milter's decision time per message (its log, `ms`): p50 "
                  f"{m['milter_ms_p50']:.2f} ms, p99 {m['milter_ms_p99']:.2f} ms, max "
                  f"{m['milter_ms_max']:.2f} ms (Postfix waits up to milter_content_timeout, "
                  "300 s)."]
    return "\n".join(lines)
