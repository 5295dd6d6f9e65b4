"""The one log line and the metrics of each submitted message (never its subject or body)."""

from __future__ import annotations

import time
from typing import Any

from gateway.logs import get_logger
from gateway.service import metrics
from gateway.service.outcome import Outcome, OutcomeKind

log = get_logger()


def report(outcome: Outcome, context: dict[str, Any], started: float) -> None:
    """The message's one log line and its metrics (never its subject or body)."""
    if outcome.repeated or outcome.kind is OutcomeKind.IN_PROGRESS:
        metrics.repeated("same" if outcome.repeated else "in-progress")
        log.info("message-repeated", **{**context, "queue_id": outcome.queue_id},
                 answer=outcome.kind.value, hold_id=outcome.hold_id)
        return
    if outcome.during is not None:
        metrics.store_error(outcome.during)
    if outcome.kind in (OutcomeKind.DEFERRED, OutcomeKind.DOWNSTREAM_REFUSED):
        metrics.downstream_error(outcome.kind is OutcomeKind.DEFERRED)
    decision = outcome.decision
    if decision is None:
        return
    extra: dict[str, Any] = {"outcome": outcome.kind.value}
    if outcome.detail:
        extra["error"] = outcome.detail
    if outcome.kind in (OutcomeKind.RELAYED, OutcomeKind.HELD, OutcomeKind.PARTLY_HELD):
        extra["hold_id"] = outcome.hold_id
    seconds = time.perf_counter() - started
    log.info(
        "message", **context, **extra,
        stamp=decision.stamp.value if decision.stamp else None,
        found_in=[loc.value for loc in decision.found_in],
        verdicts={r.address: r.verdict.value for r in decision.recipients},
        rules=list(decision.rules), downgrade=decision.downgrade,
        thread_id=decision.thread_id, newcomers=list(decision.newcomers),
        unreadable=bool(decision.unreadable), policy_version=decision.policy_version,
        photos=len(decision.photos),
        photos_stripped=sum(f.stripped for f in decision.photos),
        sharp_faces=sum(f.sharp_faces for f in decision.photos),
        ms=round(seconds * 1000, 2),
    )
    metrics.message_done(decision, outcome.kind.value, seconds)
