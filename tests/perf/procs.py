"""Memory and CPU of a process and its descendants, read from /proc (Linux only)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, ValueError):
        return None


def children(pid: int) -> list[int]:
    found: list[int] = []
    tasks = PROC / str(pid) / "task"
    with contextlib.suppress(OSError):
        for task in tasks.iterdir():
            text = _read(task / "children")
            if text:
                found += [int(p) for p in text.split()]
    return found


def _status_kb(pid: int, key: str) -> int:
    text = _read(PROC / str(pid) / "status")
    if text is None:
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _pss_kb(pid: int) -> int:
    text = _read(PROC / str(pid) / "smaps_rollup")
    if text is None:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    """utime + stime of the process and of its children it has reaped."""
    text = _read(PROC / str(pid) / "stat")
    if text is None:
        return 0.0
    fields = text[text.rfind(")") + 2:].split()
    # fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14..17
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / _TICK


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float
    pids: tuple[int, ...]
    rss_kb: int
    pss_kb: int
    rss_by_pid: tuple[int, ...] = ()  # in the order of ``pids``


class ProcessTree:
    """A root process and everything below it (the gateway's supervisor and workers)."""

    def __init__(self, root: int) -> None:
        self.root = root

    def pids(self) -> list[int]:
        found: list[int] = []
        todo = [self.root]
        while todo:
            pid = todo.pop()
            if not (PROC / str(pid)).exists():
                continue
            found.append(pid)
            todo += children(pid)
        return found

    def alive(self) -> bool:
        return (PROC / str(self.root)).exists()

    def rss_kb(self) -> int:
        return sum(_status_kb(pid, "VmRSS") for pid in self.pids())

    def pss_kb(self) -> int:
        return sum(_pss_kb(pid) for pid in self.pids())

    def hwm_kb(self) -> int:
        """Sum of each process's own peak RSS (VmHWM) since start or the last reset."""
        return sum(_status_kb(pid, "VmHWM") for pid in self.pids())

    def reset_hwm(self) -> bool:
        """Reset every process's VmHWM (``echo 5 > clear_refs``; needs ownership or root)."""
        done = True
        for pid in self.pids():
            try:
                (PROC / str(pid) / "clear_refs").write_text("5")
            except OSError:
                done = False
        return done

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(pid) for pid in self.pids())

    def snapshot(self, with_pss: bool = True) -> Snapshot:
        pids = self.pids()
        rss = tuple(_status_kb(pid, "VmRSS") for pid in pids)
        return Snapshot(
            at=time.monotonic(), pids=tuple(pids), rss_kb=sum(rss),
            pss_kb=sum(_pss_kb(pid) for pid in pids) if with_pss else 0, rss_by_pid=rss,
        )


@dataclass
class Peaks:
    rss_kb: int = 0
    pss_kb: int = 0
    samples: int = 0
    series: list[Snapshot] = field(default_factory=list)


class Sampler:
    """Samples a process tree's RSS (every ``interval``) and PSS in a background thread."""

    def __init__(self, tree: ProcessTree, interval: float = 0.1, keep_series: bool = False,
                 pss_every: int = 2) -> None:
        self.tree = tree
        self.interval = interval
        self.keep_series = keep_series
        self.pss_every = max(1, pss_every)
        self.peaks = Peaks()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample(final=True)

    def _sample(self, final: bool = False) -> None:
        peaks = self.peaks
        with_pss = final or peaks.samples % self.pss_every == 0
        snap = self.tree.snapshot(with_pss=with_pss)
        peaks.samples += 1
        peaks.rss_kb = max(peaks.rss_kb, snap.rss_kb)
        peaks.pss_kb = max(peaks.pss_kb, snap.pss_kb)
        if self.keep_series:
            peaks.series.append(snap)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


def machine_busy(seconds: float = 0.5) -> float:
    """Fraction of all cores busy over ``seconds`` (0.0 to 1.0)."""
    busy0, total0 = cpu_times()
    time.sleep(seconds)
    busy1, total1 = cpu_times()
    return (busy1 - busy0) / max(1, total1 - total0)
