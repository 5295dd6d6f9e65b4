"""Prometheus metrics of the message flow: the counters, and the hooks that record an outcome.

``service.submit`` records each message once, from its outcome, through ``message_done`` /
``downstream_error`` / ``store_error``. With several worker processes, set
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) so ``/metrics``
(``gateway.web.health``) adds up every worker's counters.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec

from prometheus_client import CollectorRegistry, Counter, Histogram

from gateway.core.decision import Decision
from gateway.logs import get_logger

log = get_logger()
P = ParamSpec("P")
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES = Counter(
    "stampgate_messages", "Messages decided at the end of DATA, by verdict and stamp.",
    ["verdict", "stamp"], registry=REGISTRY)
OUTCOMES = Counter(
    "stampgate_message_outcomes", "What happened to each message (relayed, held, "
    "partly-held, bounced, deferred, downstream-refused, store-failed).",
    ["outcome"], registry=REGISTRY)
RECIPIENTS = Counter(
    "stampgate_recipients", "Envelope recipients by verdict.", ["verdict"], registry=REGISTRY)
DOWNSTREAM_ERRORS = Counter(
    "stampgate_downstream_errors", "Onward deliveries that failed, temporary or permanent.",
    ["kind"], registry=REGISTRY)
STORE_ERRORS = Counter(
    "stampgate_store_errors", "Store operations that failed (the client got 451 4.3.0).",
    ["during"], registry=REGISTRY)
REPEATED = Counter(
    "stampgate_repeated_messages", "Messages sent again whose first attempt was answered "
    "(answer: same, the first answer again) or still at work (answer: in-progress, 451).",
    ["answer"], registry=REGISTRY)
POSSIBLE_DUPLICATES = Counter(
    "stampgate_possible_duplicate_deliveries", "Relayed copies of a message whose earlier "
    "attempt may already have reached the downstream, by what became of that attempt: it "
    "died (the gateway stopped) or gave up (no answer from the downstream, or its client "
    "hung up) (docs/operations.md).", ["earlier"], registry=REGISTRY)
LATENCY = Histogram(
    "stampgate_message_seconds", "Time from the end of DATA to the reply, by outcome.",
    ["outcome"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0))


# -- hooks the message use case calls ----------------------------------------------------
# A metric that cannot be recorded (say, the multiprocess directory vanished) must never
# change the answer a client gets, so each hook swallows and logs its own failure.

def _safely(hook: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(hook)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            hook(*args, **kwargs)
        except Exception as exc:
            log.warning("metrics-failed", hook=hook.__name__, error=type(exc).__name__)

    return guarded


@_safely
def message_done(decision: Decision, outcome: str, seconds: float) -> None:
    """One message answered: its verdict, stamp, recipients' verdicts and latency."""
    stamp = decision.stamp.value if decision.stamp else "none"
    MESSAGES.labels(decision.verdict.value, stamp).inc()
    OUTCOMES.labels(outcome).inc()
    for recipient in decision.recipients:
        RECIPIENTS.labels(recipient.verdict.value).inc()
    LATENCY.labels(outcome).observe(seconds)


@_safely
def downstream_error(temporary: bool) -> None:
    DOWNSTREAM_ERRORS.labels("temporary" if temporary else "permanent").inc()


@_safely
def store_error(during: str) -> None:
    STORE_ERRORS.labels(during).inc()


@_safely
def repeated(answer: str) -> None:
    REPEATED.labels(answer).inc()


@_safely
def possible_duplicate(earlier: str) -> None:
    POSSIBLE_DUPLICATES.labels(earlier).inc()


# -- multiprocess mode ------------------------------------------------------------------

def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROCESS_ENV)
    return Path(value) if value else None


def prune_dead_processes() -> None:
    """Drop the metric files of processes that are gone (an earlier run's counters)."""
    directory = multiprocess_dir()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        pid_text = path.stem.rsplit("_", 1)[-1]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except PermissionError:
            continue
