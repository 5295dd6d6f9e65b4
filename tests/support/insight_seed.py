"""A store seeded with holds at known days, stamps, rules and decisions, and the figures a
reviewer should read from them (the dashboard's and ``/metrics``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from gateway.core.decision import Decision, RecipientDecision
from gateway.core.model import Location, Stamp, Verdict
from gateway.store.records import stored
from gateway.store.store import HeldState, Store, new_held

PARTNER = "partner@outside.test"
EXT, COMMS = "needs_adjustment.external", "needs_adjustment.groups.communications"


@dataclass(frozen=True)
class Seed:
    days_ago: int
    at: dt.time
    stamp: Stamp | None
    rules: tuple[str, ...]
    state: HeldState = HeldState.HELD
    decided_after: dt.timedelta | None = None
    by: str = "director@example.org"


NOON, EARLY = dt.time(12), dt.time(0, 0, 1)
H = dt.timedelta(hours=1)
SEEDS = (
    Seed(2, NOON, Stamp.NEEDS_ADJUSTMENT, (EXT,), HeldState.RELEASED, 2 * H),
    Seed(2, NOON, Stamp.NEEDS_ADJUSTMENT, (EXT,), HeldState.REJECTED, 4 * H),
    Seed(2, NOON, Stamp.NEEDS_ADJUSTMENT, (EXT,)),
    Seed(2, dt.time(13), Stamp.INTERNAL, ("internal.groups.communications", "photo-faces"),
         HeldState.DISCARDED, 10 * H),
    Seed(0, EARLY, Stamp.CONFIDENTIAL, ("confidential.newcomer",)),
    Seed(0, EARLY, None, ("unstamped.external",)),
    Seed(12, NOON, Stamp.NEEDS_ADJUSTMENT, (EXT,)),  # expires within the warning time
    Seed(20, NOON, Stamp.NEEDS_ADJUSTMENT, (EXT,), HeldState.RELEASED, 15 * 24 * H),
    Seed(3, NOON, Stamp.NEEDS_ADJUSTMENT, (COMMS,), HeldState.EXPIRED, H, "stampgate"),
    Seed(40, NOON, Stamp.NEEDS_ADJUSTMENT, (EXT,), HeldState.EXPIRED, 14 * 24 * H,
         "stampgate"),  # outside the window
)
# What a reviewer reads for these seeds (30 days, expiry 14 days).
HELD_TOTAL = 9
BY_STAMP = {"Needs adjustment": 6, "Internal": 1, "Confidential": 1, "no stamp": 1}
TOP_RULES = {EXT: 5, COMMS: 1, "internal.groups.communications": 1, "photo-faces": 1,
             "confidential.newcomer": 1, "unstamped.external": 1}
DECIDED = 4
MEDIAN = "7.0 h"  # of 2 h, 4 h, 10 h and 15 d; expiries are no reviewer's decision
EXPIRING = 1


def decision(stamp: Stamp | None, rules: tuple[str, ...]) -> Decision:
    return Decision(
        stamp=stamp, found_in=(Location.BODY,),
        recipients=tuple(RecipientDecision(PARTNER, PARTNER, "external", (), Verdict.HOLD,
                                           rule, "held") for rule in rules),
        rules=rules, reasons=(), policy_version="v1", sender="alice@example.org")


async def seed(store: Store, at: dt.datetime) -> dict[str, str]:
    """Store every seed relative to ``at``; (hold id -> what it was) for the tests."""
    made: dict[str, str] = {}
    for number, s in enumerate(SEEDS):
        created = dt.datetime.combine(at.date() - dt.timedelta(days=s.days_ago), s.at, dt.UTC)
        content = b"Subject: seeded\r\n\r\nA client's story.\r\n"
        record = dataclasses.replace(
            new_held(queue_id=f"Q{number}", sender="alice@example.org", recipients=[PARTNER],
                     held=[PARTNER], decision=decision(s.stamp, s.rules), size=len(content),
                     message_id=f"<seed-{number}@example.org>"), created_at=created)
        hold_id = await store.hold(record, content)
        made[hold_id] = f"seed {number}"
        if s.decided_after is None:
            continue
        assert await store.set_state(hold_id, 1, s.state, s.by, None, {})
        when = stored(created + s.decided_after)
        await store.write(lambda conn, i=hold_id, w=when: conn.execute(
            "UPDATE held_messages SET decided_at = ? WHERE id = ?", (w, i)))
    return made
