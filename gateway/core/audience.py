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
    """One audience; ``group`` names the group for ``AudienceKind.GROUP`` only."""

    kind: AudienceKind
    group: str = ""

    @property
    def label(self) -> str:
        """As replies and logs show it: ``group communications``, ``external``..."""
        match self.kind:
            case AudienceKind.GROUP:
                return f"group {self.group}"
            case AudienceKind.EXTERNAL:
                return "external"
            case AudienceKind.THREAD:
                return "thread"
            case AudienceKind.ORGANISATION:
                return "organisation"
            case _:
                assert_never(self.kind)

    @property
    def key(self) -> str:
        """The part of a rule name after the rule: ``groups.communications``, ``external``."""
        if self.kind is AudienceKind.GROUP:
            return f"groups.{self.group}"
        return self.label

    @property
    def where(self) -> str:
        """``outside the organisation``: the audience as the end of a sentence."""
        match self.kind:
            case AudienceKind.GROUP:
                return f"to the {self.group} group"
            case AudienceKind.EXTERNAL:
                return "outside the organisation"
            case AudienceKind.THREAD:
                return "to the people on the thread"
            case AudienceKind.ORGANISATION:
                return "to the organisation"
            case _:
                assert_never(self.kind)


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
        audience = Audience(AudienceKind.GROUP, group)
    elif not is_organisation:
        verdict, audience = rule.external, Audience(AudienceKind.EXTERNAL)
    elif participant and rule.thread is not None:
        verdict, audience = rule.thread, Audience(AudienceKind.THREAD)
    else:
        verdict, audience = rule.organisation, Audience(AudienceKind.ORGANISATION)
    return Placement(verdict, audience, f"{rule_name}.{audience.key}")


def verdict_reason(stamp: Stamp | None, audience: Audience, verdict: Verdict) -> str:
    """``Internal may not go outside the organisation``: one recipient's verdict in words."""
    label = stamp.label if stamp else "Unstamped mail"
    match verdict:
        case Verdict.ALLOW:
            return f"{label} may go {audience.where}"
        case Verdict.HOLD:
            return f"{label} may go {audience.where} only after a reviewer approves"
        case Verdict.BOUNCE:
            return f"{label} may not go {audience.where}"
        case _:
            assert_never(verdict)
