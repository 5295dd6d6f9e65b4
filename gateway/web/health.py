"""Health, readiness and metrics routes (``/healthz``, ``/readyz``, ``/metrics``) for the web port.

The held-queue and policy figures are read at scrape time from the shared store, so they are
right whichever worker process answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
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
from gateway.adapters.space import free_bytes
from gateway.core.policy import Policy
from gateway.service.insight import Insight, cached_insight
from gateway.service.metrics import REGISTRY, multiprocess_dir
from gateway.settings import Settings
from gateway.store.store import Store, StoreError

PROBE_TIMEOUT = 3.0


class PolicyState(Protocol):
    """The live policy as the probes see it: the one in force and the last refused reload."""

    @property
    def current(self) -> Policy: ...

    @property
    def last_error(self) -> str | None: ...


class Served(Protocol):
    """What the routes read of the running gateway."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store | None: ...

    @property
    def policy(self) -> PolicyState: ...

    @property
    def stopping(self) -> asyncio.Event: ...


# -- probes -----------------------------------------------------------------------------

async def held_queue(store: Store) -> tuple[int, float]:
    """How many messages wait for a reviewer, and the age of the oldest in seconds."""
    count, oldest = await store.held_backlog()
    if oldest is None:
        return count, 0.0
    return count, max(0.0, (dt.datetime.now(dt.UTC) - oldest).total_seconds())


async def probe_store(store: Store | None) -> dict[str, Any]:
    """Readable and writable now (SQLite: its write lock within a second; PostgreSQL: a
    pooled connection answers)."""
    if store is None:
        return {"ok": False, "detail": "not open"}
    try:
        await asyncio.wait_for(store.ping(), PROBE_TIMEOUT)
        count, age = await asyncio.wait_for(held_queue(store), PROBE_TIMEOUT)
    except (TimeoutError, sqlite3.Error, StoreError, OSError) as exc:
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:200]}
    except Exception as exc:  # a probe reports a failure, it never raises one
        return {"ok": False, "detail": f"{type(exc).__name__}"}
    return {"ok": True, "held": count, "oldest_held_seconds": round(age, 1)}


async def probe_disk(data: Path, floor: int) -> dict[str, Any]:
    """Free space for the store and its held bodies, at least ``min_free_bytes``."""
    try:
        free = await asyncio.wait_for(asyncio.to_thread(free_bytes, data), PROBE_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        return {"ok": False, "detail": f"cannot read the free space: {type(exc).__name__}",
                "min_free_bytes": floor}
    ok = free >= floor
    detail = ("enough free space" if ok else
              f"{free} bytes free, below min_free_bytes; new mail gets 452 4.3.1")
    return {"ok": ok, "free_bytes": free, "min_free_bytes": floor, "detail": detail}


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


async def _snapshot(gateway: Served) -> list[Metric]:
    families: list[Metric] = []
    if gateway.store is not None:
        with contextlib.suppress(Exception):
            count, age = await asyncio.wait_for(held_queue(gateway.store), PROBE_TIMEOUT)
            families.append(GaugeMetricFamily(
                "stampgate_held_messages", "Messages waiting for a reviewer.", value=count))
            families.append(GaugeMetricFamily(
                "stampgate_held_oldest_age_seconds",
                "Age of the oldest message waiting for a reviewer.", value=age))
        with contextlib.suppress(Exception):
            expiry = dt.timedelta(days=gateway.settings.hold_expiry_days)
            families += insight_families(await asyncio.wait_for(
                cached_insight(gateway.store, expiry), PROBE_TIMEOUT))
    with contextlib.suppress(OSError):
        families.append(GaugeMetricFamily(
            "stampgate_disk_free_bytes", "Free space for the store (readiness fails below "
            "min_free_bytes).", value=free_bytes(Path(gateway.settings.data))))
    policy = GaugeMetricFamily("stampgate_policy_info", "The policy version in force.",
                               labels=["version"])
    policy.add_metric([gateway.policy.current.version], 1)
    families.append(policy)
    families.append(GaugeMetricFamily(
        "stampgate_policy_reload_refused",
        "1 while the last change to the policy files was refused (the previous policy "
        "stays in force).", value=1 if gateway.policy.last_error else 0))
    return families


def insight_families(figures: Insight) -> list[Metric]:
    """The dashboard's figures as gauges (read at most every 30 s from the store)."""
    today = GaugeMetricFamily("stampgate_held_today", "Messages held since midnight UTC, by "
                              "stamp (graph it for holds per day).", labels=["stamp"])
    month = GaugeMetricFamily("stampgate_held_30d", "Messages held in the last 30 days "
                              "(UTC days), by stamp.", labels=["stamp"])
    for series in figures.by_stamp:
        today.add_metric([series.key], series.counts[-1])
        month.add_metric([series.key], series.total)
    rules = GaugeMetricFamily("stampgate_held_30d_by_rule", "Messages held in the last 30 "
                              "days by each rule that held them.", labels=["rule"])
    for rule, count in figures.rule_totals:
        rules.add_metric([rule], count)
    ruled_today = GaugeMetricFamily("stampgate_held_today_by_rule", "Messages held since "
                                    "midnight UTC by each rule that held them.", labels=["rule"])
    for rule, count in figures.rules_today:
        ruled_today.add_metric([rule], count)
    families: list[Metric] = [today, month, rules, ruled_today, GaugeMetricFamily(
        "stampgate_decisions_30d", "Reviewers' decisions on held messages in the last 30 "
        "days.", value=figures.decided), GaugeMetricFamily(
        "stampgate_held_expiring_soon", "Messages still held that expire within the "
        "queue's warning time.", value=figures.expiring_total)]
    if figures.median_decision is not None:
        families.append(GaugeMetricFamily(
            "stampgate_decision_median_seconds", "Median time from hold to a reviewer's "
            "decision, decisions of the last 30 days.",
            value=figures.median_decision.total_seconds()))
    return families


def routes(gateway: Served) -> list[BaseRoute]:
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
            "disk": await probe_disk(Path(gateway.settings.data),
                                     gateway.settings.min_free_bytes),
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


def app(gateway: Served) -> Starlette:
    """A web app with only these routes, for when no other app serves the web port."""
    return Starlette(routes=routes(gateway))
