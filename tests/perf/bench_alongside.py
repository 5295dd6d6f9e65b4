"""5 KB traffic alone and with 2 MB messages alongside (``scripts/bench``, part ``alongside``).

Issue 21 asks that a 2 MB message with PDF, DOCX and JPEG attachments not slow concurrent
5 KB traffic by more than 10%. For Postfix and for stampgate, rounds alternate between 5 KB
messages over SESSIONS sessions alone and the same while one more session sends the 2 MB
message again and again (``smtp-source``, two messages a run, runs back to back until the
5 KB run has ended). Reported: the median 5 KB rate alone and alongside, the slowdown, and
the 2 MB messages that went through meanwhile. Every message is counted at the sink as in
the matrix; every loop is bounded in count and time.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LARGE_PER_RUN = 2
MAX_LARGE_RUNS = 500  # a bound on the background loop, far above what a run takes
SETTLE_TIMEOUT = 300.0


class _Stream:
    """2 MB messages to one port, back to back, in a thread, until stopped."""

    def __init__(self, send: Callable[[int, Path, int, int], float], port: int,
                 message: Path) -> None:
        self.sent = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(send, port, message),
                                        name="large-stream", daemon=True)

    def _run(self, send: Callable[[int, Path, int, int], float], port: int,
             message: Path) -> None:
        try:
            for _ in range(MAX_LARGE_RUNS):
                if self._stop.is_set():
                    return
                send(port, message, 1, LARGE_PER_RUN)
                self.sent += LARGE_PER_RUN
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def __enter__(self) -> _Stream:
        self._thread.start()
        time.sleep(0.3)  # the first 2 MB message is in flight before the 5 KB run starts
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(SETTLE_TIMEOUT)


def alongside_part(bench: Any, send: Callable[..., float], log: Callable[[str], None],
                   small_kb: int, large_kb: int, count: int, sessions: int,
                   rounds: int) -> dict[str, Any]:
    """``bench`` is tests/perf/bench.py's Bench; ``send`` its ``smtp_source``."""
    small = bench.source_file(small_kb)
    large = bench.source_file(large_kb)
    targets = [t for t in ("postfix", "stampgate") if t in bench.ports]
    rates: dict[str, dict[str, list[float]]] = {t: {"alone": [], "alongside": []}
                                                for t in targets}
    large_sent: dict[str, int] = {t: 0 for t in targets}
    large_seconds: dict[str, float] = {t: 0.0 for t in targets}
    for round_no in range(rounds):
        for target in targets if round_no % 2 == 0 else list(reversed(targets)):
            port = bench.ports[target]
            for mode in ("alone", "alongside") if round_no % 2 == 0 else ("alongside", "alone"):
                bench.settle_sink(SETTLE_TIMEOUT)
                if mode == "alone":
                    seconds = send(port, small, sessions, count)
                    extra = 0
                else:
                    started = time.perf_counter()
                    with _Stream(send, port, large) as stream:
                        seconds = send(port, small, sessions, count)
                    if stream.error is not None:
                        raise stream.error
                    extra = stream.sent
                    large_sent[target] += extra
                    large_seconds[target] += time.perf_counter() - started
                rates[target][mode].append(count / seconds)
                bench.direct_and_postfix += bench.relayed_by(target, count + extra)
                log(f"alongside {target:<9} round {round_no + 1} {mode:<9} "
                    f"{small_kb} KB x{sessions}: {count / seconds:7.1f}/s"
                    + (f" ({extra} of {large_kb} KB meanwhile)" if extra else ""))
    bench.settle_sink(SETTLE_TIMEOUT)
    out: dict[str, Any] = {"small_kb": small_kb, "large_kb": large_kb, "count": count,
                           "sessions": sessions, "rounds": rounds}
    for target in targets:
        alone = statistics.median(rates[target]["alone"])
        along = statistics.median(rates[target]["alongside"])
        out[target] = {"alone": alone, "alongside": along, "slowdown": 1 - along / alone,
                       "large_sent": large_sent[target],
                       "large_rate": large_sent[target] / max(large_seconds[target], 1e-9)}
    return out


def alongside_report(r: dict[str, Any]) -> str:
    lines = [f"{r['small_kb']} KB at {r['sessions']} sessions ({r['count']} messages a run, "
             f"median of {r['rounds']} rounds), alone and with one more session sending "
             f"{r['large_kb']} KB messages (PDF + DOCX + JPEG) back to back:", "",
             "| target | alone msgs/s | alongside msgs/s | slowdown | large messages "
             "meanwhile (msgs/s) |", "|---|---|---|---|---|"]
    for target in ("postfix", "stampgate"):
        if target in r:
            t = r[target]
            lines.append(f"| {target} | {t['alone']:.0f} | {t['alongside']:.0f} | "
                         f"{100 * t['slowdown']:.0f}% | {t['large_sent']} "
                         f"({t['large_rate']:.1f}) |")
    return "\n".join(lines)
