"""Health, readiness and Prometheus metrics: Starlette routes, metric objects, SMTP hooks.

The SMTP handler calls the small ``message_done`` / ``downstream_error`` / ``store_error``
hooks; ``routes(gateway)`` gives ``/healthz``, ``/readyz`` and ``/metrics`` to whichever
web app serves the web port. With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR``
(prometheus-client's multiprocess mode) so ``/metrics`` adds up every worker's counters;
the held-queue and policy figures are read at scrape time and are right either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.adapters.delivery import parse_downstream
from gateway.core.decision import Decision
from gateway.logs import get_logger
from gateway.store.store import Store

if TYPE_CHECKING:
    from gateway.runtime.app import Gateway

log = get_logger()
P = ParamSpec("P")
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
PROBE_TIMEOUT = 3.0
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
LATENCY = Histogram(
    "stampgate_message_seconds", "Time from the end of DATA to the reply, by outcome.",
    ["outcome"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0))


# -- hooks the SMTP handler calls -------------------------------------------------------
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


# -- probes -----------------------------------------------------------------------------

async def held_queue(store: Store) -> tuple[int, float]:
    """How many messages wait for a reviewer, and the age of the oldest in seconds."""
    count, oldest = await store.held_backlog()
    if oldest is None:
        return count, 0.0
    return count, max(0.0, (dt.datetime.now(dt.UTC) - oldest).total_seconds())


def _try_write_lock(path: Path) -> None:
    conn = sqlite3.connect(path, timeout=1.0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    finally:
        conn.close()


async def probe_store(store: Store | None) -> dict[str, Any]:
    """Readable and writable now: the write lock can be taken within a second."""
    if store is None:
        return {"ok": False, "detail": "not open"}
    try:
        await asyncio.wait_for(asyncio.to_thread(_try_write_lock, store.path), PROBE_TIMEOUT)
        count, age = await asyncio.wait_for(held_queue(store), PROBE_TIMEOUT)
    except (TimeoutError, sqlite3.Error, OSError) as exc:
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:200]}
    except Exception as exc:  # a probe reports a failure, it never raises one
        return {"ok": False, "detail": f"{type(exc).__name__}"}
    free = shutil.disk_usage(store.path.parent).free
    return {"ok": True, "held": count, "oldest_held_seconds": round(age, 1), "free_bytes": free}


async def probe_downstream(url: str, timeout: float = PROBE_TIMEOUT) -> dict[str, Any]:
    """A maildir is a writable directory; an SMTP downstream accepts a connection (and 220)."""
    address = parse_downstream(url)
    if address.scheme == "maildir":
        new = Path(address.path) / "new"
        ok = new.is_dir() and os.access(new, os.W_OK)
        return {"ok": ok, "detail": "writable" if ok else f"{new} is not writable"}
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(address.host, address.port), timeout)
    except (OSError, TimeoutError) as exc:
        return {"ok": False, "detail": f"cannot connect: {type(exc).__name__} {exc}"[:200]}
    try:
        if address.scheme == "smtps":
            return {"ok": True, "detail": "connected"}
        banner = await asyncio.wait_for(reader.readline(), timeout)
        if not banner.startswith(b"220"):
            return {"ok": False, "detail": f"greeting {banner[:80]!r}"}
        writer.write(b"QUIT\r\n")
        with contextlib.suppress(OSError):
            await writer.drain()
        return {"ok": True, "detail": "answered 220"}
    except (OSError, TimeoutError) as exc:
        return {"ok": False, "detail": f"no greeting: {type(exc).__name__}"}
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


# -- routes -----------------------------------------------------------------------------

class _Snapshot(Collector):
    """Figures read at scrape time: they come from the shared store, not one process."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


async def _snapshot(gateway: Gateway) -> list[Metric]:
    families: list[Metric] = []
    if gateway.store is not None:
        with contextlib.suppress(Exception):
            count, age = await asyncio.wait_for(held_queue(gateway.store), PROBE_TIMEOUT)
            families.append(GaugeMetricFamily(
                "stampgate_held_messages", "Messages waiting for a reviewer.", value=count))
            families.append(GaugeMetricFamily(
                "stampgate_held_oldest_age_seconds",
                "Age of the oldest message waiting for a reviewer.", value=age))
    policy = GaugeMetricFamily("stampgate_policy_info", "The policy version in force.",
                               labels=["version"])
    policy.add_metric([gateway.policy.current.version], 1)
    families.append(policy)
    families.append(GaugeMetricFamily(
        "stampgate_policy_reload_refused",
        "1 while the last change to the policy files was refused (the previous policy "
        "stays in force).", value=1 if gateway.policy.last_error else 0))
    return families


def routes(gateway: Gateway) -> list[BaseRoute]:
    """``/healthz``, ``/readyz`` and ``/metrics`` for the gateway's web app."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        policy = gateway.policy
        checks: dict[str, dict[str, Any]] = {
            # A refused reload keeps the last good policy in force, so mail still flows
            # and the gateway stays ready; the refusal is reported here and in metrics.
            "policy": {"ok": True, "version": policy.current.version,
                       "last_reload_error": policy.last_error},
            "store": await probe_store(gateway.store),
            "downstream": await probe_downstream(gateway.settings.downstream,
                                                 min(PROBE_TIMEOUT,
                                                     gateway.settings.downstream_timeout)),
        }
        if gateway.stopping.is_set():
            checks["shutdown"] = {"ok": False, "detail": "shutting down"}
        ready = all(check["ok"] for check in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        if multiprocess_dir() is not None:
            workers = CollectorRegistry()
            multiprocess.MultiProcessCollector(workers)  # type: ignore[no-untyped-call]
            body = generate_latest(workers)
        else:
            body = generate_latest(REGISTRY)
        scrape = CollectorRegistry()
        scrape.register(_Snapshot(await _snapshot(gateway)))
        body += generate_latest(scrape)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]


def app(gateway: Gateway) -> Starlette:
    """A web app with only these routes, for when no other app serves the web port."""
    return Starlette(routes=routes(gateway))
