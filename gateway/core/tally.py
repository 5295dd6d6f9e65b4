"""Running an ordered table of rules: what a rule is, and what the rules have found so far."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from gateway.core.audience import Audience
from gateway.core.context import DecisionContext
from gateway.core.model import Location, Stamp, Verdict
from gateway.core.recipients import Recipient


@dataclass(frozen=True, slots=True)
class Judgement:
    """One recipient as the rules have judged them so far; ``rule`` decided ``verdict``."""

    recipient: Recipient
    groups: tuple[str, ...]
    is_organisation: bool
    participant: bool
    audience: Audience
    verdict: Verdict
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Tally:
    """What the rules run so far have found; each rule gets one and may return a new one.

    ``judged`` turns true once an audience rule has judged every recipient: the rules that
    refine a verdict come after it in the table.
    """

    stamp: Stamp | None
    found_in: tuple[Location, ...]
    judged: bool = False
    judgements: tuple[Judgement, ...] = ()
    reasons: tuple[str, ...] = ()
    downgrade: str | None = None
    newcomers: tuple[str, ...] = ()
    hits: tuple[str, ...] = ()

    def require_judged(self, rule: str) -> tuple[Judgement, ...]:
        """The judgements, for a rule that refines them; the table puts it after one that
        makes them."""
        if not self.judged:
            raise AssertionError(f"rule {rule} runs before any audience rule in the table")
        return self.judgements


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule that applied: the names it records and the tally it leaves.

    A rule judged per recipient records one name per recipient (``internal.external``).
    """

    names: tuple[str, ...]
    tally: Tally


class Rule(Protocol):
    """A named check; the table runs the rules in order and records every one that hit."""

    @property
    def name(self) -> str:
        """The name recorded when it hits; ``STAMP`` and ``AUDIENCE`` stand for parts filled in."""

    @property
    def description(self) -> str:
        """One line saying what the rule does, for ``policy explain --rules``."""

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        """The tally after this rule, or ``None`` when it does not apply."""


def run_rules(table: Sequence[Rule], context: DecisionContext) -> Tally:
    """Run ``table`` in order over one message; the result carries every name that hit."""
    reading = context.reading
    tally = Tally(stamp=reading.stamp, found_in=reading.where)
    for rule in table:
        hit = rule.check(context, tally)
        if hit is not None:
            tally = replace(hit.tally, hits=(*tally.hits, *hit.names))
    if not tally.judged:
        raise AssertionError("the rule table has no audience rule: no recipient was judged")
    return tally
