"""Who a recipient is to a stamp's audience rule (a group, outside, the thread, the
organisation), and the verdict that rule gives them."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never

from gateway.core.model import Stamp, Verdict, strictest
from gateway.core.policy import AudienceRule


class AudienceKind(enum.Enum):
    """The four audiences of a rule in ``rules.toml``, in the order they are tried."""

    GROUP = "group"
    EXTERNAL = "external"
    THREAD = "thread"
    ORGANISATION = "organisation"


@dataclass(frozen=True, slots=True)
class Audience:
    """One audience and its words, worked out once (``audience`` builds one)."""

    kind: AudienceKind
    group: str
    label: str  # as replies and logs show it: ``group communications``, ``external``
    key: str  # the part of a rule name after the rule: ``groups.communications``
    where: str  # the end of a sentence: ``outside the organisation``


def audience(kind: AudienceKind, group: str = "") -> Audience:
    """The audience of ``kind``; ``group`` names the group for ``AudienceKind.GROUP`` only."""
    match kind:
        case AudienceKind.GROUP:
            return Audience(kind, group, f"group {group}", f"groups.{group}",
                            f"to the {group} group")
        case AudienceKind.EXTERNAL:
            return Audience(kind, "", "external", "external", "outside the organisation")
        case AudienceKind.THREAD:
            return Audience(kind, "", "thread", "thread", "to the people on the thread")
        case AudienceKind.ORGANISATION:
            return Audience(kind, "", "organisation", "organisation", "to the organisation")
        case _:
            assert_never(kind)


# Built once: decide() places every recipient of every message in one of these.
EXTERNAL = audience(AudienceKind.EXTERNAL)
THREAD = audience(AudienceKind.THREAD)
ORGANISATION = audience(AudienceKind.ORGANISATION)


@dataclass(frozen=True, slots=True)
class Placement:
    """What one audience rule says about one recipient, and the rule name that says it."""

    verdict: Verdict
    audience: Audience
    rule: str


def place(rule_name: str, rule: AudienceRule, groups: Sequence[str], is_organisation: bool,
          participant: bool) -> Placement:
    """Groups first (strictest wins), then external, then thread, then organisation."""
    matched = [(rule.groups[g], g) for g in groups if g in rule.groups]
    if matched:
        verdict = strictest([v for v, _ in matched])
        # Tie-break between groups of the same verdict: the first in name order.
        group = next(g for v, g in matched if v is verdict)
        placed = audience(AudienceKind.GROUP, group)
    elif not is_organisation:
        verdict, placed = rule.external, EXTERNAL
    elif participant and rule.thread is not None:
        verdict, placed = rule.thread, THREAD
    else:
        verdict, placed = rule.organisation, ORGANISATION
    return Placement(verdict, placed, f"{rule_name}.{placed.key}")


def verdict_reason(stamp: Stamp | None, placed: Audience, verdict: Verdict) -> str:
    """``Internal may not go outside the organisation``: one recipient's verdict in words."""
    label = stamp.label if stamp else "Unstamped mail"
    match verdict:
        case Verdict.ALLOW:
            return f"{label} may go {placed.where}"
        case Verdict.HOLD:
            return f"{label} may go {placed.where} only after a reviewer approves"
        case Verdict.BOUNCE:
            return f"{label} may not go {placed.where}"
        case _:
            assert_never(verdict)
