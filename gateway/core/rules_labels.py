"""The rules about partners' labels: label headers only restrict; stamp and label conflicts
are said in the reasons."""

from __future__ import annotations

from dataclasses import replace
from itertools import product

from gateway.core.audience import place
from gateway.core.context import DecisionContext
from gateway.core.model import Location, Stamp
from gateway.core.policy import Policy
from gateway.core.scan import StampFinding
from gateway.core.stamps import strictest_finding
from gateway.core.tally import Hit, Tally

LABEL_SOURCE = "label "


def no_looser_than_unstamped(policy: Policy, stamp: Stamp) -> bool:
    """Whether ``stamp``'s audience rule gives every recipient a verdict at least as strict
    as ``[unstamped]`` does (checked for each group alone, inside and outside, on the thread
    or not: a recipient in several groups gets the strictest of them, so that suffices)."""
    name, rule = policy.rules.for_stamp(stamp)
    _, unstamped = policy.rules.for_stamp(None)
    groups = sorted(set(rule.groups) | set(unstamped.groups))
    for group, inside, participant in product([None, *groups], (True, False), (True, False)):
        member = (group,) if group else ()
        mine = place(name, rule, member, inside, participant).verdict
        theirs = place("unstamped", unstamped, member, inside, participant).verdict
        if mine.rank < theirs.rank:
            return False
    return True


class LabelHeaders:
    """A label header from the sender's client may make the stamp stricter, never looser."""

    name = "label-header"
    description = ("a label header of the message itself (X-Protective-Marking, SIO-Label, "
                   "X-TLP) stricter than its stamp: the label's stamp decides; one that would "
                   "loosen the decision is not used")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        best = strictest_finding(context.reading.guarded)
        if best is None:
            return None
        said = f"{best.source.removeprefix(LABEL_SOURCE)} says {best.stamp.label}"
        current = tally.stamp
        if current is not None and best.stamp.rank <= current.rank:
            if best.stamp is current:
                return None
            reason = (f"{said}, less strict than the stamp ({current.label}): "
                      "the stricter decides")
            return Hit((self.name,), replace(tally, reasons=(*tally.reasons, reason)))
        if current is None and not no_looser_than_unstamped(context.policy, best.stamp):
            reason = (f"{said}, which would loosen the decision on unstamped mail: a label "
                      "header from the sender's client is not used to loosen it")
            return Hit((self.name,), replace(tally, reasons=(*tally.reasons, reason)))
        before = current.label if current else "no stamp"
        reason = f"{said}, stricter than {before}: the stricter decides"
        return Hit((self.name,), replace(tally, stamp=best.stamp,
                                         found_in=(Location.LABEL_HEADER,),
                                         reasons=(*tally.reasons, reason)))


class LabelConflict:
    """A partner's label that disagrees with our stamp is said in the reasons."""

    name = "label-conflict"
    description = ("our stamp and a partner's label (TLP, protective marking, SIO-Label, "
                   "Purview) on the message itself disagree: said in the reasons, the "
                   "stricter decides")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        own = context.reading.own
        labels = [f for f in own if f.source.startswith(LABEL_SOURCE)]
        stamp = strictest_finding(f for f in own if not f.source.startswith(LABEL_SOURCE))
        if stamp is None or not labels:
            return None
        reasons = [_conflict(stamp, label) for label in labels if label.stamp is not stamp.stamp]
        if not reasons:
            return None
        return Hit((self.name,), replace(tally, reasons=(*tally.reasons,
                                                         *dict.fromkeys(reasons))))


def _conflict(stamp: StampFinding, label: StampFinding) -> str:
    winner = stamp if stamp.stamp.rank >= label.stamp.rank else label
    return (f"conflict: the stamp {stamp.stamp.label} ({stamp.location.value}) and the "
            f"{label.source} ({label.location.value}) disagree: the label maps to "
            f"{label.stamp.label}; the stricter, {winner.stamp.label}, decides")
