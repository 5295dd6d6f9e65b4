"""Throughput, latency, memory and CPU of stampgate against Postfix and a direct sink.

Run it with ``scripts/bench`` (see ``scripts/bench --help`` and docs/performance.md).

Everything listens on 127.0.0.1. One ``smtp-sink`` is the downstream of all three targets:

- ``direct``: ``smtp-source`` straight into the sink (the ceiling of the load generator);
- ``postfix``: a private Postfix instance relaying to the sink (stock settings);
- ``stampgate``: ``stampgate serve --workers N`` relaying to the sink, policy enforced.

For each size and session count the targets take turns, round by round, each sending a
fixed number of messages with ``smtp-source`` (a new session per message). The rate is the
accept rate: messages divided by the time ``smtp-source`` took. After every run the sink's
counter must have grown by exactly the number of messages sent (for Postfix the run waits
for its queue to drain into the sink first) and the gateway's log must show each one relayed;
otherwise the benchmark stops with an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import itertools
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loadgen import (
    SENDER,
    Job,
    Result,
    make_document_message,
    make_message,
    run_sessions,
    write_source_file,
)
from procs import ProcessTree, Sampler, cpu_times, machine_busy
from servers import LOOPBACK, BenchError, Floor, Gateway, Postfix, Sink

from gateway.core.register import ClientField

# The register CSV's value columns, in order (pseudonym first, the two yes/no columns last).
REGISTER_FIELDS = (ClientField.NAME, ClientField.HOMETOWN, ClientField.JOB, ClientField.ORIGIN,
                   ClientField.WITHHOLD)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # the documents row builds its files with tests/support
RELAY_TO = "bob@example.org"
BOUNCE_TO = "press@example.org"  # communications: Internal bounces
HOLD_TO = "partner@outside.test"  # external: Needs adjustment is held
CLEARED = "Cleared for publication"
INTERNAL = "Internal"
NEEDS_ADJUSTMENT = "Needs adjustment in 2 ways: blur face, change name"
# floor-*: stampgate's SMTP edge and delivery with none of its work (--floor, floor_relay.py)
FLOORS = ("accept", "relay", "durable", "raw", "piped")
DEFAULT_FLOORS = "accept,relay,durable"  # --floor alone
TARGETS = ("direct", "postfix", *(f"floor-{mode}" for mode in FLOORS), "stampgate")
QUIET = 0.15  # other work below this fraction of the machine counts as quiet
RUN_TIMEOUT = 300.0  # seconds any one load run may take
DRAIN_TIMEOUT = 300.0  # seconds Postfix may take to hand its queue to the sink

# The size of the row whose messages carry a real PDF, DOCX and JPEG (sizes from 1 MB up do).
DOCUMENTS_KB = 2048
# messages per target per round: {size_kb: {sessions: count}}
STANDARD_COUNTS = {5: {1: 1200, 10: 2000, 50: 2500}, 100: {1: 500, 10: 800, 50: 1000},
                   DOCUMENTS_KB: {1: 40, 10: 80, 50: 100}}
QUICK_COUNTS = {5: {1: 150, 10: 500, 50: 600}, 100: {1: 100, 10: 250, 50: 300},
                DOCUMENTS_KB: {1: 10, 10: 30, 50: 50}}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- one load run ----------------------------------------------------------------------------


@dataclass
class Run:
    target: str
    size_kb: int
    sessions: int
    messages: int
    round: int
    seconds: float
    delivered: int
    drain_seconds: float = 0.0
    cpu_seconds: float = 0.0
    machine_busy: float = 0.0  # all cores, everything on the machine, while smtp-source ran
    handler_ms: list[float] = field(default_factory=list, repr=False)
    # stage: [ms per message], elapsed and the event loop's CPU, from the gateway's log
    stage_ms: dict[str, list[float]] = field(default_factory=dict, repr=False)
    stage_cpu_ms: dict[str, list[float]] = field(default_factory=dict, repr=False)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


@dataclass
class ConfigResult:
    size_kb: int
    sessions: int
    runs: list[Run] = field(default_factory=list)
    peak_rss_kb: int = 0
    peak_pss_kb: int = 0
    hwm_sum_kb: int = 0
    floor_rss_kb: dict[str, int] = field(default_factory=dict)  # peak RSS of each floor

    def rates(self, target: str) -> list[float]:
        return [r.rate for r in self.runs if r.target == target]

    def median(self, target: str) -> float:
        rates = self.rates(target)
        return statistics.median(rates) if rates else 0.0

    def cpu_ms_per_message(self, target: str) -> float:
        runs = [r for r in self.runs if r.target == target]
        total = sum(r.messages for r in runs)
        return 1000 * sum(r.cpu_seconds for r in runs) / total if total else 0.0

    def machine_busy(self, target: str) -> float:
        return statistics.median([r.machine_busy for r in self.runs if r.target == target]
                                 or [0.0])

    def handler_ms(self, pct: float) -> float:
        return percentile([ms for r in self.runs for ms in r.handler_ms], pct)

    def stages(self) -> dict[str, tuple[float, float]]:
        """Each stage's median elapsed and CPU ms per message over the runs."""
        out: dict[str, tuple[float, float]] = {}
        for run in self.runs:
            for stage in run.stage_ms:
                if stage not in out:
                    wall = [ms for r in self.runs for ms in r.stage_ms.get(stage, [])]
                    cpu = [ms for r in self.runs for ms in r.stage_cpu_ms.get(stage, [])]
                    out[stage] = (statistics.median(wall), statistics.median(cpu))
        return out

    def cores_used(self, target: str) -> float:
        runs = [r for r in self.runs if r.target == target]
        wall = sum(r.seconds + r.drain_seconds for r in runs)
        return sum(r.cpu_seconds for r in runs) / wall if wall else 0.0


RUNS = itertools.count(1)
PER_MESSAGE = ("handler_ms", "stage_ms", "stage_cpu_ms")  # a Run's lists: not in --json


def unique(recipient: str) -> str:
    """The recipient for one ``smtp-source`` run, which ``-N`` numbers per message (1r7-bob@,
    2r7-bob@, ...): every message of every run is a new one, not the retry of an earlier one
    (the gateway answers a retry from memory and relays nothing twice)."""
    return f"r{next(RUNS)}-{recipient}"


def smtp_source(port: int, message_file: Path, sessions: int, count: int,
                recipient: str = RELAY_TO) -> float:
    """Run ``smtp-source``: ``count`` messages over ``sessions`` sessions; return seconds."""
    command = ["smtp-source", "-N", "-s", str(sessions), "-m", str(count), "-F", str(message_file),
               "-f", SENDER, "-t", unique(recipient), "-M", "bench-client.localdomain",
               f"{LOOPBACK}:{port}"]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"smtp-source took longer than {RUN_TIMEOUT:.0f} s") from exc
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"smtp-source to port {port} failed ({done.returncode}): "
                         f"{(done.stdout + done.stderr).strip()[:500]}")
    return seconds


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.sink = Sink()
        self.gateway = Gateway(args.stampgate, args.policies, self.sink.port, args.workers,
                               register=register_csv(work, args.register))
        self.postfix: Postfix | None = None
        if not args.no_postfix:
            self.postfix = Postfix(self.sink.port)
            self.postfix.start()
        self.floors: dict[str, Floor] = {}
        for mode in args.floor:
            self.floors[f"floor-{mode}"] = Floor(mode, self.sink.port, args.workers)
        self.gateway.wait_ready()
        self.ports = {"direct": self.sink.port, "stampgate": self.gateway.port}
        if self.postfix is not None:
            self.ports["postfix"] = self.postfix.port
        self.ports.update({name: floor.port for name, floor in self.floors.items()})
        self.targets = [t for t in TARGETS if t in self.ports]
        self.files: dict[tuple[int, str], Path] = {}
        self.direct_and_postfix = 0  # messages sent to the sink other than by the gateway
        self.wait_budget = float(args.wait_idle)
        self.busy_seen: list[float] = []  # other processes' load before each round

    def wait_until_quiet(self) -> None:
        """Before a round: while other processes keep the machine busy, wait (within the
        ``--wait-idle`` budget). Our own servers are idle here."""
        while True:
            busy = machine_busy(0.5)
            if busy < QUIET or self.wait_budget <= 0:
                self.busy_seen.append(busy)
                return
            log(f"the machine is {100 * busy:.0f}% busy with other work; waiting "
                f"({self.wait_budget:.0f} s of --wait-idle left)")
            time.sleep(5)
            self.wait_budget -= 5.5

    def close(self) -> None:
        for close in (self.gateway.close, *(f.close for f in self.floors.values()),
                      self.postfix.close if self.postfix else None, self.sink.close):
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    def source_file(self, size_kb: int, stamp: str = CLEARED, to: str = RELAY_TO) -> Path:
        key = (size_kb, stamp + to)
        if key not in self.files:
            attachment = size_kb > 5 and self.args.large_body == "attachment"
            if size_kb >= 1024:
                message = make_document_message(size_kb * 1024, stamp, [to])
            else:
                message = make_message(size_kb * 1024, stamp, [to], attachment=attachment)
            path = self.work / f"message-{size_kb}k-{len(self.files)}.eml"
            self.files[key] = write_source_file(message, path)
        return self.files[key]

    # -- the throughput matrix ---------------------------------------------------------------

    def settle_sink(self, timeout: float) -> None:
        """Wait until the sink has exactly what was sent to it: every message of the direct
        and Postfix runs, and everything the gateway's log says it handed downstream."""
        deadline = time.monotonic() + timeout
        while True:
            expected = self.direct_and_postfix + self.gateway.at_sink()
            got = self.sink.count
            if got == expected:
                time.sleep(0.02)  # and it stays there
                if self.sink.count == expected == self.direct_and_postfix + self.gateway.at_sink():
                    return
                continue
            if got > expected and time.monotonic() > deadline - timeout / 2:
                raise BenchError(f"the sink received {got - expected} messages more than were "
                                 "sent or logged as relayed")
            if time.monotonic() > deadline:
                raise BenchError(f"the sink received {got} messages, {expected} were sent to "
                                 f"it ({expected - got} missing after {timeout:.0f} s)")
            time.sleep(0.01)

    def one_run(self, target: str, size_kb: int, sessions: int, count: int,
                round_no: int) -> Run:
        self.settle_sink(30)
        before = self.sink.count
        self.gateway.capture()
        relayed_before = self.gateway.counts["message:relayed"]
        tree = self._tree(target)
        cpu_before = tree.cpu_seconds() if tree else 0.0
        machine_before = cpu_times()
        try:
            seconds = smtp_source(self.ports[target], self.source_file(size_kb), sessions, count)
        except BenchError as exc:
            where = f"{target}, {size_kb} KB x{sessions}, round {round_no}"
            raise BenchError(f"{where}: {exc}") from exc
        machine_after = cpu_times()
        busy = ((machine_after[0] - machine_before[0])
                / max(1, machine_after[1] - machine_before[1]))
        started = time.perf_counter()
        self.direct_and_postfix += self.relayed_by(target, count)
        self.settle_sink(DRAIN_TIMEOUT if target == "postfix" else 10)
        drain = time.perf_counter() - started if target == "postfix" else 0.0
        cpu = (tree.cpu_seconds() - cpu_before) if tree else 0.0
        delivered = self.sink.count - before
        entries = self.gateway.take()
        handler_ms: list[float] = []
        stage_ms: dict[str, list[float]] = {}
        stage_cpu_ms: dict[str, list[float]] = {}
        if target == "stampgate":
            handler_ms = [float(ms) for e in entries if isinstance(ms := e.get("ms"), int | float)]
            for entry in entries:
                for key, into in (("stage_ms", stage_ms), ("stage_cpu_ms", stage_cpu_ms)):
                    laps = entry.get(key)
                    if isinstance(laps, dict):
                        for stage, ms in laps.items():
                            into.setdefault(stage, []).append(float(ms))
            relayed = self.gateway.counts["message:relayed"] - relayed_before
            if relayed != count:
                raise BenchError(f"stampgate logged {relayed} relayed messages for {count} sent")
        return Run(target, size_kb, sessions, count, round_no, seconds, delivered, drain, cpu,
                   busy, handler_ms, stage_ms, stage_cpu_ms)

    @staticmethod
    def relayed_by(target: str, count: int) -> int:
        """What ``count`` messages sent to ``target`` add to the sink, besides the gateway's
        (counted from its log): none for the floor that only accepts."""
        return 0 if target in ("stampgate", "floor-accept") else count

    def _tree(self, target: str) -> ProcessTree | None:
        if target == "stampgate":
            return self.gateway.tree
        if target in self.floors:
            return self.floors[target].tree
        if target == "postfix" and self.postfix is not None:
            return self.postfix.tree
        return None

    def warm_up(self) -> None:
        log("warm-up: 200 messages of each size (20 of documents) to each target")
        for size_kb in self.args.sizes:
            for target in self.targets:
                self.one_run(target, size_kb, 10, 200 if size_kb < 1024 else 20, 0)

    def matrix(self) -> list[ConfigResult]:
        results: list[ConfigResult] = []
        counts = QUICK_COUNTS if self.args.quick else STANDARD_COUNTS
        for size_kb in self.args.sizes:
            for sessions in self.args.sessions:
                count = counts.get(size_kb, counts[100]).get(sessions, 10 * sessions + 200)
                count = max(sessions, int(count * self.args.scale))
                config = ConfigResult(size_kb, sessions)
                self.gateway.tree.reset_hwm()
                for round_no in range(1, self.args.rounds + 1):
                    self.wait_until_quiet()
                    shift = (round_no - 1) % len(self.targets)
                    order = self.targets[shift:] + self.targets[:shift]
                    for target in order:
                        if target == "stampgate":
                            with Sampler(self.gateway.tree) as sampler:
                                run = self.one_run(target, size_kb, sessions, count, round_no)
                            config.peak_rss_kb = max(config.peak_rss_kb, sampler.peaks.rss_kb)
                            config.peak_pss_kb = max(config.peak_pss_kb, sampler.peaks.pss_kb)
                        elif target in self.floors:
                            with Sampler(self.floors[target].tree) as sampler:
                                run = self.one_run(target, size_kb, sessions, count, round_no)
                            config.floor_rss_kb[target] = max(
                                config.floor_rss_kb.get(target, 0), sampler.peaks.rss_kb)
                        else:
                            run = self.one_run(target, size_kb, sessions, count, round_no)
                        config.runs.append(run)
                        log(f"{size_kb:>3} KB x{sessions:<2} round {round_no} {target:<9} "
                            f"{run.messages} msgs in {run.seconds:6.2f} s = {run.rate:7.1f}/s"
                            + (f" (queue drained {run.drain_seconds:.2f} s later)"
                               if run.drain_seconds > 0.05 else ""))
                config.hwm_sum_kb = self.gateway.tree.hwm_kb()
                results.append(config)
        return results

    # -- latency at one session --------------------------------------------------------------

    def latency(self, count: int) -> dict[str, Any]:
        message = make_message(5 * 1024, CLEARED, [RELAY_TO])
        # Each message to its own recipient: the same message again would be a retry, which
        # the gateway answers from memory without relaying it twice.
        run = unique(RELAY_TO)
        times: dict[str, list[float]] = {t: [] for t in self.targets}
        ehlo: dict[str, list[float]] = {t: [] for t in self.targets}
        self.settle_sink(30)
        before = self.sink.count
        gw_before = self.gateway.events()["message:relayed"]

        async def measure() -> None:
            for i in range(count + 30):
                order = self.targets if i % 2 == 0 else list(reversed(self.targets))
                job = Job("relay", (f"{i}{run}",), message)
                for target in order:
                    results, _ = await run_sessions(LOOPBACK, self.ports[target], [job], 1, 60)
                    result = results[0]
                    if result.code != 250:
                        raise BenchError(f"latency: {target} answered {result.code} "
                                         f"{result.reply or result.error}")
                    if i >= 30:  # the first 30 of each warm up
                        times[target].append(result.accept_s)
                        ehlo[target].append(result.ehlo_s)

        asyncio.run(measure())
        sent = (count + 30) * len(self.targets)
        self.direct_and_postfix += sum(self.relayed_by(t, count + 30) for t in self.targets)
        self.settle_sink(DRAIN_TIMEOUT)
        reached = self.sink.count - before
        relayed = self.gateway.events()["message:relayed"] - gw_before
        if relayed != count + 30:
            raise BenchError(f"latency: stampgate logged {relayed} relayed of {count + 30}")
        summary: dict[str, Any] = {"messages_per_target": count, "sent": sent,
                                   "delivered": reached}
        for target, values in times.items():
            summary[target] = {"p50_ms": 1000 * percentile(values, 50),
                               "p95_ms": 1000 * percentile(values, 95),
                               "p99_ms": 1000 * percentile(values, 99),
                               "ehlo_p50_ms": 1000 * percentile(ehlo[target], 50),
                               "ehlo_p95_ms": 1000 * percentile(ehlo[target], 95),
                               "slow_ehlo_share": sum(e > 0.02 for e in ehlo[target])
                               / max(1, len(ehlo[target]))}
        return summary

    # -- relay / bounce / hold mix -----------------------------------------------------------

    def mix(self, count: int, sessions: int, rounds: int) -> dict[str, Any]:
        size = 5 * 1024
        relay = Job("relay", (RELAY_TO,), make_message(size, CLEARED, [RELAY_TO]))
        bounce = Job("bounce", (BOUNCE_TO,), make_message(size, INTERNAL, [BOUNCE_TO]))
        hold = Job("hold", (HOLD_TO,), make_message(size, NEEDS_ADJUSTMENT, [HOLD_TO]))
        rng = random.Random(1)
        mixed = [relay] * 6 + [bounce] * 2 + [hold] * 2
        scenarios: dict[str, list[Job]] = {
            "relay only": [relay] * count,
            "bounce only": [bounce] * count,
            "hold only": [hold] * count,
            "mix 60/20/20": [rng.choice(mixed) for _ in range(count)],
        }
        rates: dict[str, list[float]] = {name: [] for name in scenarios}
        gateway_ms: dict[str, list[float]] = {kind: [] for kind in ("relay", "bounce", "hold")}
        totals: Counter[str] = Counter()
        names = list(scenarios)
        for round_no in range(rounds):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                jobs = scenarios[name]
                results, seconds = self._mix_run(jobs, sessions, totals, gateway_ms)
                rates[name].append(len(results) / seconds)
                log(f"mix {name:<13} round {round_no + 1}: {len(results)} msgs in "
                    f"{seconds:6.2f} s = {len(results) / seconds:7.1f}/s")
        # reference: the same client, relay only, straight into the sink
        direct_rates = []
        for _ in range(rounds):
            results, seconds = asyncio.run(run_sessions(LOOPBACK, self.sink.port,
                                                        [relay] * count, sessions, RUN_TIMEOUT))
            _check_replies(results, {"relay": 250})
            self.direct_and_postfix += count
            self.settle_sink(30)
            direct_rates.append(count / seconds)
        return {
            "messages_per_run": count, "sessions": sessions, "rounds": rounds,
            "rates": {name: statistics.median(v) for name, v in rates.items()},
            "direct_client_rate": statistics.median(direct_rates),
            "gateway_ms_p50": {k: percentile(v, 50) for k, v in gateway_ms.items() if v},
            "gateway_ms_p95": {k: percentile(v, 95) for k, v in gateway_ms.items() if v},
            "outcomes": dict(totals),
        }

    def _mix_run(self, jobs: Sequence[Job], sessions: int, totals: Counter[str],
                 gateway_ms: dict[str, list[float]]) -> tuple[list[Result], float]:
        self.settle_sink(30)
        before = self.sink.count
        outbox_before = self.gateway.counts["outbox-sent"]
        held_before = self.gateway.held_count()
        self.gateway.capture()
        results, seconds = asyncio.run(run_sessions(LOOPBACK, self.gateway.port, jobs, sessions,
                                                    RUN_TIMEOUT))
        if len(results) != len(jobs):
            raise BenchError(f"mix: only {len(results)} of {len(jobs)} sent within the time limit")
        sent = Counter(r.kind for r in results)
        _check_replies(results, {"relay": 250, "hold": 250, "bounce": 550})
        for result in results:
            if result.kind == "hold" and "held for review" not in result.reply:
                raise BenchError(f"mix: a hold was answered {result.reply!r}")
        self.settle_sink(30)
        held = self.gateway.held_count() - held_before
        outcomes: Counter[str] = Counter()
        for entry in self.gateway.take():
            outcome = str(entry.get("outcome"))
            outcomes[outcome] += 1
            kind = {"relayed": "relay", "bounced": "bounce", "held": "hold"}.get(outcome)
            ms = entry.get("ms")
            if kind is not None and isinstance(ms, int | float):
                gateway_ms[kind].append(float(ms))
        expected = {"relayed": sent["relay"], "bounced": sent["bounce"], "held": sent["hold"]}
        if (held != sent["hold"] or {k: outcomes[k] for k in expected} != expected
                or sum(outcomes.values()) != len(jobs)):
            raise BenchError(f"mix: sent {dict(sent)}; the store holds {held} new, "
                             f"the log says {dict(outcomes)}")
        notices = self.gateway.counts["outbox-sent"] - outbox_before
        totals.update({"sent": len(jobs), "relayed": outcomes["relayed"],
                       "bounced": outcomes["bounced"], "held": held,
                       "at_sink": self.sink.count - before, "notices": notices})
        return results, seconds


def _check_replies(results: Sequence[Result], expected: dict[str, int]) -> None:
    wrong = [r for r in results if r.code != expected[r.kind]]
    if wrong:
        first = wrong[0]
        raise BenchError(f"{len(wrong)} of {len(results)} replies not as expected; first: "
                         f"{first.kind} got {first.code} {first.reply or first.error}")


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# -- soak ------------------------------------------------------------------------------------


def soak(bench: Bench, seconds: float, interval: float) -> dict[str, Any]:
    """Steady traffic for ``seconds``: 5 KB and 100 KB relays, holds and bounces; RSS sampled."""
    relay_small = bench.source_file(5)
    relay_large = bench.source_file(100)
    hold = Job("hold", (HOLD_TO,), make_message(5 * 1024, NEEDS_ADJUSTMENT, [HOLD_TO]))
    bounce = Job("bounce", (BOUNCE_TO,), make_message(5 * 1024, INTERNAL, [BOUNCE_TO]))
    sent: Counter[str] = Counter()
    bench.settle_sink(30)
    sink_before = bench.sink.count
    held_before = bench.gateway.held_count()
    relayed_before = bench.gateway.events()["message:relayed"]
    bounced_before = bench.gateway.counts["message:bounced"]
    deadline = time.monotonic() + seconds

    async def source(path: Path, sessions: int, count: int) -> None:
        process = await asyncio.create_subprocess_exec(
            "smtp-source", "-N", "-s", str(sessions), "-m", str(count), "-F", str(path),
            "-f", SENDER, "-t", unique(RELAY_TO), "-M", "bench-client.localdomain",
            f"{LOOPBACK}:{bench.gateway.port}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
        if process.returncode != 0:
            raise BenchError(f"soak: smtp-source failed: {out.decode(errors='replace')[:300]}")
        sent["relay"] += count

    async def others() -> None:
        results, _ = await run_sessions(LOOPBACK, bench.gateway.port,
                                        [hold] * 20 + [bounce] * 20, 1, RUN_TIMEOUT)
        _check_replies(results, {"hold": 250, "bounce": 550})
        sent.update(r.kind for r in results)

    async def traffic() -> int:
        cycles = 0
        while time.monotonic() < deadline:
            await asyncio.gather(source(relay_small, 8, 1000), source(relay_large, 2, 100),
                                 others())
            cycles += 1
            log(f"soak: {cycles} cycles, {sum(sent.values())} messages, "
                f"RSS {bench.gateway.tree.rss_kb() / 1024:.1f} MB, "
                f"{max(0, deadline - time.monotonic()):.0f} s left")
        return cycles

    started = time.monotonic()
    with Sampler(bench.gateway.tree, interval=interval, keep_series=True,
                 pss_every=1) as sampler:
        cycles = asyncio.run(traffic())
    elapsed = time.monotonic() - started
    bench.settle_sink(60)
    delivered = bench.sink.count - sink_before
    held = bench.gateway.held_count() - held_before
    counts = bench.gateway.counts
    if (held != sent["hold"] or counts["message:relayed"] - relayed_before != sent["relay"]
            or counts["message:bounced"] - bounced_before != sent["bounce"]):
        raise BenchError(f"soak: sent {dict(sent)}; the store holds {held} new, the log says "
                         f"{counts['message:relayed'] - relayed_before} relayed and "
                         f"{counts['message:bounced'] - bounced_before} bounced")
    series = [{"t": round(s.at - started, 1), "rss_mb": round(s.rss_kb / 1024, 1),
               "pss_mb": round(s.pss_kb / 1024, 1), "processes": len(s.pids),
               "rss_mb_by_process": [round(kb / 1024, 1) for kb in s.rss_by_pid]}
              for s in sampler.peaks.series]
    return {"seconds": round(elapsed, 1), "cycles": cycles, "sent": dict(sent),
            "delivered": delivered, "held": held, "series": series,
            "notices": delivered - sent["relay"],
            "slope_mb_per_10min": _slope(series)}


def _slope(series: Sequence[dict[str, Any]]) -> float:
    """RSS growth over the second half of the run, extrapolated to ten minutes."""
    half = [s for s in series if s["t"] >= series[-1]["t"] / 2] if series else []
    if len(half) < 2:
        return 0.0
    xs = [float(s["t"]) for s in half]
    ys = [float(s["rss_mb"]) for s in half]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    if var == 0:
        return 0.0
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var
    return round(slope * 600, 2)


# -- profile ---------------------------------------------------------------------------------


# Messages per size in one profiling pass: about a second of traffic each.
PROFILE_BATCH = {5: 1000, 100: 200}


def profile(bench: Bench, seconds: float, out: Path | None,
            sizes: tuple[int, ...] = (5, 100), sessions: int = 10) -> dict[str, Any]:
    """py-spy over every gateway process (reader processes included) while ``sessions``
    sessions send messages of each of ``sizes`` KB in turn (5 KB then 100 KB by default)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise BenchError("py-spy is not installed: .venv/bin/pip install py-spy")
    raw = bench.work / "profile.txt"
    command = [py_spy, "record", "--pid", str(bench.gateway.process.pid), "--subprocesses",
               "--duration", str(int(seconds)), "--rate", "200", "--format", "raw",
               "--output", str(raw), "--nonblocking"]
    spy = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(1.0)
    deadline = time.monotonic() + seconds - 1
    sent = 0
    while time.monotonic() < deadline:
        for size in sizes:
            count = PROFILE_BATCH.get(size, 20)
            bench.one_run("stampgate", size, sessions, count, 0)
            sent += count
    out_text, _ = spy.communicate(timeout=seconds + 60)
    if spy.returncode != 0 or not raw.exists():
        raise BenchError(f"py-spy failed: {out_text.decode(errors='replace')[-500:]}")
    if out is not None:
        shutil.copy(raw, out)
    return {"messages": sent, "sizes": list(sizes), "sessions": sessions,
            **summarise_profile(raw.read_text())}


IDLE_LEAVES = ("EpollSelector.select (", "_worker (futures/thread.py)",
               "Condition.wait (", "Event.wait (")


# frames every sample passes through: left out of the inclusive table
ENTRY_POINTS = ("main (gateway/cli/main.py)", "run (gateway/cli/serve.py)",
                "start_processes (", "run_supervisor (", "run_worker (", "<module> (",
                "_run_code (", "_run_module_as_main (",
                "Runner.run (", "run (asyncio/runners.py)", "BaseEventLoop.run_until_complete (",
                "BaseEventLoop.run_forever (", "BaseEventLoop._run_once (", "Handle._run (",
                "Thread._bootstrap", "Thread.run (", "Supervisor.run (", "Gateway.serve (")


def summarise_profile(text: str, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample counts per function from py-spy's raw (collapsed) output.

    Samples whose innermost frame is a wait (the event loop's ``select``, an idle executor
    thread) are counted as idle and left out of the percentages.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [_short_frame(f) for f in frames]
        if not frames:
            continue
        if frames[-1].startswith(IDLE_LEAVES):
            idle += count
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return {
        "samples": total, "idle_samples": idle,
        "self": [(f, round(100 * n / total, 1)) for f, n in own.most_common(top)],
        "inclusive": [(f, round(100 * n / total, 1)) for f, n in inclusive.most_common()
                      if not f.startswith(ENTRY_POINTS)][:top],
    }


def _short_frame(frame: str) -> str:
    """``func (/long/path/pkg/mod.py:123)`` -> ``func (pkg/mod.py)``: lines merged."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    for anchor in ("site-packages", "lib"):
        if anchor in parts:
            parts = parts[len(parts) - parts[::-1].index(anchor):]
            break
    short = "/".join(parts[-2:]) if len(parts) >= 2 else path
    if "/work/" in path and "gateway" in parts:
        short = "/".join(parts[parts.index("gateway"):])
    return f"{name} ({short})"


# -- the report ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    postfix = subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True,
                             text=True, check=False).stdout.strip()
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "gateway"],
                           capture_output=True, text=True, check=False).stdout.strip()
    commit = (commit or "unknown") + (" with uncommitted changes in gateway/" if dirty else "")
    return {"cpu": cpu, "cores": os.cpu_count(), "commit": commit,
            "memory_gb": round(mem_kb / 1024 ** 2, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "postfix": postfix, "load_average": os.getloadavg()}


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}x" if value else "-"


def report(results: Sequence[ConfigResult], latency: dict[str, Any] | None,
           mix: dict[str, Any] | None, decide: dict[str, Any] | None,
           info: dict[str, Any], workers: int) -> str:
    out: list[str] = []
    out.append(f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB, "
               f"Linux {info['kernel']}, Python {info['python']}, Postfix {info['postfix']}; "
               f"stampgate {info['commit']}, {workers} processes (idle: RSS "
               f"{info.get('gateway_idle_rss_mb')} MB, PSS {info.get('gateway_idle_pss_mb')} MB); "
               f"load average before/after: {info['load_average'][0]:.2f} / "
               f"{info.get('load_average_end', (0.0,))[0]:.2f}")
    if info.get("register_clients"):
        out.append(f"Protected-client register loaded: {info['register_clients']} clients "
                   "with 6 values each.")
    out.append("")
    out.append("Throughput: accept rate, msgs/s, median of the rounds (smtp-source, "
               "new session per message)")
    out.append("")
    out.append("| size | sessions | msgs/run x rounds | direct | Postfix | stampgate "
               "| vs Postfix | vs direct | stampgate min-max | gw peak RSS MB | gw peak PSS MB "
               "| gw CPU ms/msg | gw cores busy | machine busy | gw DATA ms p50/p95 "
               "| Postfix CPU ms/msg | machine busy (Postfix) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in results:
        d, p, s = c.median("direct"), c.median("postfix"), c.median("stampgate")
        rates = c.rates("stampgate")
        messages = c.runs[0].messages if c.runs else 0
        rounds = len(rates)
        out.append(
            f"| {c.size_kb} KB | {c.sessions} | {messages} x {rounds} | {d:.0f} | "
            f"{f'{p:.0f}' if p else '-'} | {s:.0f} | {fmt_ratio(s / p if p else 0)} | "
            f"{fmt_ratio(s / d if d else 0)} | {min(rates):.0f}-{max(rates):.0f} | "
            f"{c.peak_rss_kb / 1024:.1f} | {c.peak_pss_kb / 1024:.1f} | "
            f"{c.cpu_ms_per_message('stampgate'):.2f} | {c.cores_used('stampgate'):.2f} | "
            f"{c.machine_busy('stampgate'):.0%} | "
            f"{c.handler_ms(50):.1f} / {c.handler_ms(95):.1f} | "
            f"{c.cpu_ms_per_message('postfix'):.2f} | {c.machine_busy('postfix'):.0%} |")
    if any(c.stages() for c in results):
        out.append("")
        out.extend(stages_report(results))
    if any(c.rates(f"floor-{mode}") for c in results for mode in FLOORS):
        out.append("")
        out.extend(floor_report(results))
    if "other_busy_pct" in info:
        median, most = info["other_busy_pct"]
        out.append("")
        out.append(f"Other processes kept the machine {median}% busy before a round (median; "
                   f"at most {most}%).")
    # floor-accept answers without relaying: its messages are not expected at the sink
    total_sent = sum(r.messages for c in results for r in c.runs if r.target != "floor-accept")
    total_delivered = sum(r.delivered for c in results for r in c.runs)
    out.append("")
    out.append(f"Every message arrived: {total_delivered} of {total_sent} counted at the sink "
               "(Postfix's after its queue drained); stampgate logged each as relayed.")
    if latency:
        out.append("")
        out.append(f"Latency, 1 session, 5 KB, connect to the reply after the final dot, "
                   f"{latency['messages_per_target']} messages per target (interleaved):")
        out.append("")
        out.append("| target | p50 ms | p95 ms | p99 ms | added p50 ms | added p95 ms "
                   "| EHLO reply p50/p95 ms | EHLO > 20 ms |")
        out.append("|---|---|---|---|---|---|---|---|")
        base = latency.get("direct")
        for target in TARGETS:
            row = latency.get(target)
            if not row or not base:
                continue
            out.append(f"| {target} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | "
                       f"{row['p99_ms']:.2f} | {row['p50_ms'] - base['p50_ms']:.2f} | "
                       f"{row['p95_ms'] - base['p95_ms']:.2f} | {row['ehlo_p50_ms']:.2f} / "
                       f"{row['ehlo_p95_ms']:.2f} | {row['slow_ehlo_share']:.0%} |")
    if mix:
        out.append("")
        out.append(f"Relay / bounce / hold, 5 KB, {mix['sessions']} sessions, asyncio client, "
                   f"{mix['messages_per_run']} msgs per run, median of {mix['rounds']} rounds "
                   f"(client straight into the sink: {mix['direct_client_rate']:.0f}/s):")
        out.append("")
        out.append("| run | msgs/s | vs relay only |")
        out.append("|---|---|---|")
        relay_rate = mix["rates"]["relay only"]
        for name, rate in mix["rates"].items():
            out.append(f"| {name} | {rate:.0f} | {fmt_ratio(rate / relay_rate)} |")
        out.append("")
        out.append("Gateway time per message from its log (`ms`), p50 / p95: " + ", ".join(
            f"{kind} {mix['gateway_ms_p50'][kind]:.2f} / {mix['gateway_ms_p95'][kind]:.2f} ms"
            for kind in mix["gateway_ms_p50"]))
        o = mix["outcomes"]
        out.append(f"Outcomes checked: {o.get('sent', 0)} sent: {o.get('relayed', 0)} relayed, "
                   f"{o.get('bounced', 0)} bounced (550), {o.get('held', 0)} held in the store; "
                   f"the sink received {o.get('at_sink', 0)} = the relayed ones plus "
                   f"{o.get('notices', 0)} notices the gateway's outbox sent (hold notices).")
    if decide:
        out.append("")
        out.append(decide_report(decide))
    return "\n".join(out)


def stages_report(results: Sequence[ConfigResult]) -> list[str]:
    """Where the gateway's time per message goes, from the stages in its log lines."""
    stages: list[str] = []
    for c in results:
        stages += [s for s in c.stages() if s not in stages]
    out = ["Where stampgate's time per message goes (its log's stage_ms and stage_cpu_ms, "
           "medians): elapsed ms / the event loop's CPU ms; the rest of a stage is waiting "
           "for the store's thread, the disk or the downstream:", "",
           "| size | sessions | " + " | ".join(stages) + " |",
           "|---|---|" + "---|" * len(stages)]
    for c in results:
        got = c.stages()
        cells = [f"{got[s][0]:.2f} / {got[s][1]:.2f}" if s in got else "-" for s in stages]
        out.append(f"| {c.size_kb} KB | {c.sessions} | " + " | ".join(cells) + " |")
    return out


def floor_report(results: Sequence[ConfigResult]) -> list[str]:
    """The floors next to Postfix and stampgate: msgs/s (vs Postfix), CPU ms per message."""
    names = tuple(name for name in ("postfix", *(f"floor-{mode}" for mode in FLOORS), "stampgate")
                  if any(c.rates(name) for c in results))
    out = ["The floor: stampgate's SMTP edge (GatewaySMTP on aiosmtpd) and delivery adapter "
           "(SmtpDownstream on aiosmtplib), uvloop, as many processes, none of its reading, "
           "policy, store or log (tests/perf/floor_relay.py). accept: 250 at once, nothing "
           "relayed; relay: 250 once the sink accepted; durable: relay and one fsync'd SQLite "
           "commit; raw, piped: relay with a minimal client instead of aiosmtplib, one "
           "command at a time or pipelined. msgs/s (vs Postfix), CPU ms per message, "
           "peak RSS of all its processes:", "",
           "| size | sessions | " + " | ".join(names) + " |",
           "|---|---|" + "---|" * len(names)]
    for c in results:
        postfix = c.median("postfix")
        cells = []
        for name in names:
            rate = c.median(name)
            ratio = f" ({fmt_ratio(rate / postfix)})" if postfix and name != "postfix" else ""
            rss_kb = c.peak_rss_kb if name == "stampgate" else c.floor_rss_kb.get(name, 0)
            cells.append(f"{rate:.0f}{ratio}, {c.cpu_ms_per_message(name):.2f}"
                         + (f", {rss_kb / 1024:.0f} MB" if rss_kb else ""))
        out.append(f"| {c.size_kb} KB | {c.sessions} | " + " | ".join(cells) + " |")
    return out


def decide_report(d: dict[str, Any]) -> str:
    lines = [f"Decision core (one core, 5 KB message, {d['recipients']} recipients, groups of "
             f"{d['members']} members):", "",
             "| measure | per second | µs each |", "|---|---|---|"]
    for name, rate in d["rates"].items():
        lines.append(f"| {name} | {rate:,.0f} | {1e6 / rate:.1f} |")
    lines.append("")
    lines.append("Group look-up scaling, decide() alone: " + ", ".join(
        f"{m:,} members {r:,.0f}/s" for m, r in d["scaling"]))
    return "\n".join(lines)


def run_decide(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    out = work / "decide.json"
    command = [sys.executable, str(HERE / "bench_decide.py"), "--policies", str(args.policies),
               "--json", str(out)]
    if args.quick:
        command.append("--quick")
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise BenchError(f"bench_decide.py failed: {done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# -- command line ----------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Standard run (about 4 minutes):   scripts/bench\n"
               "Quick check of a change:           scripts/bench --quick --skip postfix\n"
               "Memory over ten minutes:           scripts/bench --soak 600\n"
               "Where the gateway spends its time: scripts/bench --profile 30")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per configuration (5)")
    parser.add_argument("--sizes", type=_ints, default=[5, 100, DOCUMENTS_KB],
                        help="KB, e.g. 5,100,2048; from 1024 up a message carries a real "
                             "PDF, DOCX and JPEG (default 5,100,2048)")
    parser.add_argument("--sessions", type=_ints, default=[1, 10, 50], help="e.g. 1,10,50")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the messages per run (default 1.0)")
    parser.add_argument("--quick", action="store_true",
                        help="1 round, fewer messages, short latency/mix/decision runs")
    parser.add_argument("--workers", type=int, default=None,
                        help="stampgate --workers (default: the gateway's own, = cores)")
    parser.add_argument("--large-body", choices=("attachment", "text"), default="attachment",
                        help="100 KB messages: a text part and a base64 attachment (default), "
                             "or all plain text")
    parser.add_argument("--skip", default="",
                        help="comma list of parts to leave out: "
                             "postfix,latency,mix,milter,decide,alongside")
    parser.add_argument("--soak", type=float, metavar="SECONDS", default=0,
                        help="only run steady traffic for SECONDS and sample the gateway's RSS")
    parser.add_argument("--soak-interval", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--profile", type=float, metavar="SECONDS", default=0,
                        help="only profile the gateway under load with py-spy for SECONDS")
    parser.add_argument("--profile-sizes", default="5,100", metavar="SIZES",
                        help="KB of the messages sent while profiling (default 5,100)")
    parser.add_argument("--profile-sessions", type=int, default=10, metavar="N",
                        help="concurrent sessions while profiling (default 10)")
    parser.add_argument("--profile-raw", type=Path, metavar="FILE",
                        help="keep py-spy's collapsed stacks here")
    parser.add_argument("--wait-idle", type=float, metavar="SECONDS", default=0,
                        help="before each round, wait while other processes keep more than "
                             f"{round(QUIET * 100)}%% of the machine busy, "
                             "up to SECONDS in all (default 0)")
    parser.add_argument("--floor", nargs="?", const=DEFAULT_FLOORS, default="",
                        metavar="MODES",
                        help="also run floors: stampgate's SMTP edge and delivery with none "
                             "of its work (tests/perf/floor_relay.py): accept only, relay, "
                             "relay with one "
                             f"fsync'd commit ({DEFAULT_FLOORS}, the default); raw and piped "
                             "relay with a minimal client instead of aiosmtplib")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write all results")
    parser.add_argument("--stampgate", type=Path,
                        default=Path(sys.executable).parent / "stampgate")
    parser.add_argument("--policies", type=Path, default=ROOT / "policies")
    parser.add_argument("--register", type=int, default=0, metavar="CLIENTS",
                        help="load a protected-client register of CLIENTS clients (6 values "
                             "each) into the gateway before the run (default: none)")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - {"postfix", "latency", "mix", "milter", "decide", "alongside"}
    if unknown:
        parser.error(f"--skip: unknown parts {sorted(unknown)}")
    args.skip = skip
    args.floor = [m.strip() for m in args.floor.split(",") if m.strip()]
    if set(args.floor) - set(FLOORS):
        parser.error(f"--floor: unknown modes {sorted(set(args.floor) - set(FLOORS))}")
    args.no_postfix = "postfix" in skip or args.soak > 0 or args.profile > 0
    if args.quick:
        args.rounds = min(args.rounds, 1)
    return args


def register_csv(work: Path, clients: int) -> Path | None:
    """A register of ``clients`` clients as the CSV ``stampgate clients import`` reads."""
    if clients <= 0:
        return None
    from bench_register import register  # the micro-benchmark's register generator

    path = work / "register.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pseudonym", "names", "hometown", "job", "origin", "withhold",
                         "resettled", "share_only_after_resettlement"])
        for record in register(clients, random.Random(17)):
            cells = [";".join(record.values.get(field, ())) for field in REGISTER_FIELDS]
            writer.writerow([record.pseudonym, *cells, "yes", "no"])
    return path


@contextlib.contextmanager
def bench_running(args: argparse.Namespace) -> Iterator[Bench]:
    with tempfile.TemporaryDirectory(prefix="stampgate-bench-") as tmp:
        bench: Bench | None = None
        try:
            bench = Bench(args, Path(tmp))
            yield bench
        finally:
            if bench is not None:
                bench.close()


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    missing = [tool for tool in ("smtp-source", "smtp-sink", "postfix", "postconf")
               if shutil.which(tool) is None]
    if missing:
        print(f"bench: missing {', '.join(missing)}; install them with:\n"
              "  sudo apt-get install --no-install-recommends postfix", file=sys.stderr)
        return 2
    info = machine()
    info["register_clients"] = args.register
    started = time.monotonic()
    payload: dict[str, Any] = {"machine": info, "args": {
        k: (str(v) if isinstance(v, Path | set) else v) for k, v in vars(args).items()}}
    try:
        with bench_running(args) as bench:
            workers = len(bench.gateway.tree.pids())
            idle = bench.gateway.tree.snapshot()
            info["gateway_idle_rss_mb"] = round(idle.rss_kb / 1024, 1)
            info["gateway_idle_pss_mb"] = round(idle.pss_kb / 1024, 1)
            if args.soak:
                payload["soak"] = soak(bench, args.soak, args.soak_interval)
                print(soak_report(payload["soak"]))
            elif args.profile:
                payload["profile"] = profile(
                    bench, args.profile, args.profile_raw,
                    tuple(int(size) for size in args.profile_sizes.split(",")),
                    args.profile_sessions)
                print(profile_report(payload["profile"]))
            else:
                bench.warm_up()
                results = bench.matrix()
                payload["throughput"] = [
                    {**{k: v for k, v in asdict(c).items() if k != "runs"},
                     "handler_ms_p50": c.handler_ms(50), "handler_ms_p95": c.handler_ms(95),
                     "stages": c.stages(),
                     "runs": [{**{k: v for k, v in asdict(r).items() if k not in PER_MESSAGE},
                               "rate": r.rate} for r in c.runs]} for c in results]
                alongside = None
                if "alongside" not in args.skip:
                    from bench_alongside import alongside_part

                    log(f"alongside: 5 KB at 10 sessions, alone and with {DOCUMENTS_KB} KB "
                        "messages alongside")
                    alongside = alongside_part(bench, smtp_source, log, 5, DOCUMENTS_KB,
                                               500 if args.quick else 2000, 10, args.rounds)
                    payload["alongside"] = alongside
                latency = None
                if "latency" not in args.skip:
                    log("latency: 1 session, 5 KB, targets interleaved")
                    latency = bench.latency(100 if args.quick else 500)
                    payload["latency"] = latency
                mix = None
                if "mix" not in args.skip:
                    mix = bench.mix(200 if args.quick else 600, 10, 1 if args.quick else 3)
                    payload["mix"] = mix
                milter = None
                if "milter" not in args.skip and bench.postfix is not None:
                    log("milter part: Postfix alone and Postfix + stampgate milter")
                    from bench_milter import milter_part, milter_report

                    count = 200 if args.quick else max(100, int(1000 * args.scale))
                    milter = milter_part(bench, smtp_source, count, 10, args.rounds,
                                         100 if args.quick else 300)
                    payload["milter"] = milter
                decide = None
                if "decide" not in args.skip:
                    log("decision core micro-benchmark")
                    decide = run_decide(args, bench.work)
                    payload["decide"] = decide
                info["load_average_end"] = os.getloadavg()
                if bench.busy_seen:
                    info["other_busy_pct"] = (round(100 * statistics.median(bench.busy_seen)),
                                              round(100 * max(bench.busy_seen)))
                print(report(results, latency, mix, decide, info, workers))
                if alongside is not None:
                    from bench_alongside import alongside_report

                    print()
                    print(alongside_report(alongside))
                if milter is not None:
                    print()
                    print(milter_report(milter))
    except BenchError as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 1
    payload["seconds"] = round(time.monotonic() - started, 1)
    log(f"done in {payload['seconds']:.0f} s; load average now "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2, default=str))
    return 0


def soak_report(s: dict[str, Any]) -> str:
    series = s["series"]
    lines = [f"Soak: {s['seconds']:.0f} s, {sum(s['sent'].values())} messages "
             f"({s['sent']}), all checked: {s['delivered']} at the sink (the relayed ones and "
             f"{s['notices']} hold notices), {s['held']} held in the store.",
             f"RSS growth over the second half, extrapolated: {s['slope_mb_per_10min']} MB "
             "per 10 minutes.", "",
             "| t s | RSS MB (all processes) | PSS MB | RSS MB by process (supervisor first) |",
             "|---|---|---|---|"]
    lines += [f"| {p['t']:.0f} | {p['rss_mb']} | {p['pss_mb']} | "
              f"{' + '.join(str(x) for x in p['rss_mb_by_process'])} |" for p in series]
    return "\n".join(lines)


def profile_report(p: dict[str, Any]) -> str:
    lines = [f"Profile: {p['samples']} busy samples over all gateway processes "
             f"({p['idle_samples']} idle ones left out), {p['messages']} messages "
             f"({p['sessions']} sessions; "
             f"{' and '.join(f'{size} KB' for size in p['sizes'])}).", "",
             "| self % | function |", "|---|---|"]
    lines += [f"| {pct} | {name} |" for name, pct in p["self"]]
    lines += ["", "| inclusive % | function |", "|---|---|"]
    lines += [f"| {pct} | {name} |" for name, pct in p["inclusive"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
