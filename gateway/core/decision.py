"""The pure policy decision: one frozen value saying what happens to each recipient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from gateway.core.model import Location, Stamp, Verdict, strictest
from gateway.core.policy import AudienceRule, Policy
from gateway.core.recipients import Recipient
from gateway.core.stamps import StampReading, strictest_finding

ORGANISATION = "organisation"
EXTERNAL = "external"
THREAD = "thread"


@dataclass(frozen=True, slots=True)
class ThreadContext:
    """What the store remembers of the thread a message belongs to.

    ``participants`` is ``None`` while no confidential chain has started in the thread.
    """

    thread_id: str
    stamp: Stamp | None
    participants: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class RecipientDecision:
    """The verdict for one envelope recipient and why."""

    address: str
    key: str
    audience: str
    groups: tuple[str, ...]
    verdict: Verdict
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything the gateway decided about one message; logs and replies render this."""

    stamp: Stamp | None
    found_in: tuple[Location, ...]
    recipients: tuple[RecipientDecision, ...]
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    policy_version: str
    adjustments: tuple[str, ...] = ()
    stated_count: int | None = None
    unreadable: tuple[str, ...] = ()
    downgrade: str | None = None
    thread_id: str | None = None
    newcomers: tuple[str, ...] = ()
    sender: str = ""
    embedded: tuple[tuple[str, str, int], ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        """The message's outcome: any bounce bounces it, else any hold holds part of it."""
        return strictest([r.verdict for r in self.recipients] or [Verdict.ALLOW])

    def addresses(self, verdict: Verdict) -> tuple[str, ...]:
        return tuple(r.address for r in self.recipients if r.verdict is verdict)

    @property
    def stamp_label(self) -> str:
        return self.stamp.label if self.stamp else "no stamp"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form; carries no subject or body text (adjustments are listed)."""
        return {
            "verdict": self.verdict.value,
            "stamp": self.stamp.value if self.stamp else None,
            "found_in": [loc.value for loc in self.found_in],
            "recipients": [
                {"address": r.address, "key": r.key, "audience": r.audience,
                 "groups": list(r.groups),
                 "verdict": r.verdict.value, "rule": r.rule, "reason": r.reason}
                for r in self.recipients
            ],
            "rules": list(self.rules),
            "reasons": list(self.reasons),
            "adjustments": list(self.adjustments),
            "stated_count": self.stated_count,
            "unreadable": list(self.unreadable),
            "downgrade": self.downgrade,
            "thread_id": self.thread_id,
            "newcomers": list(self.newcomers),
            "embedded": [{"stamp": s, "location": loc, "depth": d} for s, loc, d in self.embedded],
            "sender": self.sender,
            "policy_version": self.policy_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """The decision ``to_dict`` wrote (a held record's); records older than the ``key``
        field take the lower-cased address as the recipient's key."""
        stamp = data.get("stamp")
        return cls(
            stamp=Stamp(stamp) if stamp else None,
            found_in=tuple(Location(loc) for loc in data.get("found_in", [])),
            recipients=tuple(
                RecipientDecision(
                    address=r["address"], key=r.get("key") or r["address"].lower(),
                    audience=r["audience"], groups=tuple(r.get("groups", [])),
                    verdict=Verdict(r["verdict"]), rule=r["rule"], reason=r["reason"])
                for r in data.get("recipients", [])),
            rules=tuple(data.get("rules", [])),
            reasons=tuple(data.get("reasons", [])),
            policy_version=str(data.get("policy_version", "")),
            adjustments=tuple(data.get("adjustments", [])),
            stated_count=data.get("stated_count"),
            unreadable=tuple(data.get("unreadable", [])),
            downgrade=data.get("downgrade"),
            thread_id=data.get("thread_id"),
            newcomers=tuple(data.get("newcomers", [])),
            sender=str(data.get("sender", "")),
            embedded=tuple((e["stamp"], e["location"], int(e["depth"]))
                           for e in data.get("embedded", [])),
        )


def decide(
    policy: Policy,
    reading: StampReading,
    sender: str,
    recipients: Sequence[Recipient],
    thread: ThreadContext | None = None,
) -> Decision:
    """Apply the policy to one message. Pure: same inputs, same decision."""
    reasons: list[str] = []
    rules: list[str] = []
    stamp = reading.stamp
    found_in = reading.where
    if stamp is None and thread is not None and thread.stamp is not None:
        stamp = thread.stamp
        found_in = (Location.THREAD,)
        rules.append("thread-inherit")
        reasons.append(f"unstamped reply inherits the thread's stamp ({stamp.label})")

    sender_key = sender.lower()
    sender_groups = _groups_of(policy, sender_key)
    may_downgrade = bool(sender_groups & set(policy.organisation.may_downgrade))

    stricter = _stricter_source(reading, thread, stamp)
    downgrade: str | None = None
    if stricter is not None:
        downgrade = f"downgrade from {stricter[0].label} to {stamp.label if stamp else 'no stamp'}"
        if may_downgrade:
            reasons.append(f"{downgrade} by {sender_key}, a member of a group that may downgrade")
            rules.append("downgrade-permitted")
            downgrade_note = downgrade + " (permitted)"
        else:
            reasons.append(f"{downgrade} ({stricter[1]}): held for recipients "
                           f"{stricter[0].label} would not allow")
            rules.append("downgrade")
            downgrade_note = downgrade
        downgrade = downgrade_note

    participants = _participants(policy, stamp, thread, sender_key, recipients)
    # Only a Cleared stamp read in this message lifts the doubt; one inherited does not.
    unreadable = reading.unreadable if reading.stamp is not Stamp.CLEARED else ()
    if unreadable:
        reasons.append("content could not be read (" + "; ".join(dict.fromkeys(unreadable))
                       + "): treated as not cleared")

    index = policy.index
    rule_name, rule = policy.rules.for_stamp(stamp)
    decided: list[RecipientDecision] = []
    newcomers: list[str] = []
    for recipient in recipients:
        groups = tuple(sorted(index.groups_of(recipient.key, recipient.domain)))
        is_org = index.is_organisation(recipient.domain)
        participant = participants is not None and recipient.key in participants
        verdict, audience, fired = _apply(rule_name, rule, groups, is_org, participant)
        reason = _reason(stamp, audience, verdict)
        if unreadable:
            u_verdict, u_audience, u_fired = _apply("unreadable", policy.rules.unreadable,
                                                    groups, is_org, participant)
            if u_verdict.rank > verdict.rank:
                verdict, fired = u_verdict, u_fired
                reason = f"content could not be read, so it may not go to {u_audience}"
        if stricter is not None and not may_downgrade and verdict is not Verdict.BOUNCE:
            s_name, s_rule = policy.rules.for_stamp(stricter[0])
            s_verdict, s_audience, _ = _apply(s_name, s_rule, groups, is_org, participant)
            if s_verdict is not Verdict.ALLOW:
                verdict, fired = Verdict.HOLD, "downgrade"
                reason = (f"{downgrade}: {stricter[0].label} material may not go to "
                          f"{s_audience} without review")
        if (stamp is Stamp.CONFIDENTIAL and audience == ORGANISATION and thread is not None
                and participants is not None and not participant):
            newcomers.append(recipient.address)
            reason = f"new to the confidential thread {thread.thread_id}: needs approval"
        rules.append(fired)
        decided.append(RecipientDecision(recipient.address, recipient.key, audience, groups,
                                         verdict, fired, f"{recipient.address}: {reason}"))

    if stamp is Stamp.NEEDS_ADJUSTMENT and reading.stated_count is not None:
        listed = len(reading.adjustments)
        if listed and listed != reading.stated_count:
            reasons.append(f"the stamp states {reading.stated_count} adjustments "
                           f"but lists {listed}")
    return Decision(
        stamp=stamp,
        found_in=found_in,
        recipients=tuple(decided),
        rules=tuple(dict.fromkeys(rules)),
        reasons=tuple(reasons),
        policy_version=policy.version,
        adjustments=reading.adjustments,
        stated_count=reading.stated_count,
        unreadable=tuple(dict.fromkeys(unreadable)),
        downgrade=downgrade,
        thread_id=thread.thread_id if thread else None,
        newcomers=tuple(newcomers),
        sender=sender_key,
        embedded=tuple((f.stamp.value, f.location.value, f.depth) for f in reading.embedded),
    )


def _groups_of(policy: Policy, key: str) -> frozenset[str]:
    return policy.groups_of(key, key.rpartition("@")[2])


def _stricter_source(reading: StampReading, thread: ThreadContext | None,
                     stamp: Stamp | None) -> tuple[Stamp, str] | None:
    """The strictest embedded or thread stamp above the message's own, if any."""
    own_rank = stamp.rank if stamp else 0
    best = strictest_finding(reading.embedded)
    candidates: list[tuple[Stamp, str]] = []
    if best is not None:
        candidates.append((best.stamp, f"{best.location.value} content"))
    if thread is not None and thread.stamp is not None:
        candidates.append((thread.stamp, f"thread {thread.thread_id}"))
    above = [c for c in candidates if c[0].rank > own_rank]
    return max(above, key=lambda c: c[0].rank) if above else None


def _participants(policy: Policy, stamp: Stamp | None, thread: ThreadContext | None,
                  sender: str, recipients: Sequence[Recipient]) -> frozenset[str] | None:
    """Who is on the chain; a chain that starts here starts with its organisation recipients."""
    if thread is not None and thread.participants is not None:
        return thread.participants
    if stamp is not Stamp.CONFIDENTIAL:
        return None
    starters = {r.key for r in recipients if policy.is_organisation(r.domain)}
    return frozenset(starters | {sender})


def _apply(rule_name: str, rule: AudienceRule, groups: Sequence[str], is_org: bool,
           participant: bool) -> tuple[Verdict, str, str]:
    """Groups first (strictest wins), then external, then thread, then organisation."""
    matched = [(rule.groups[g], g) for g in groups if g in rule.groups]
    if matched:
        verdict = strictest([v for v, _ in matched])
        group = next(g for v, g in matched if v is verdict)
        return verdict, f"group {group}", f"{rule_name}.groups.{group}"
    if not is_org:
        return rule.external, EXTERNAL, f"{rule_name}.external"
    if participant and rule.thread is not None:
        return rule.thread, THREAD, f"{rule_name}.thread"
    return rule.organisation, ORGANISATION, f"{rule_name}.organisation"


def _reason(stamp: Stamp | None, audience: str, verdict: Verdict) -> str:
    label = stamp.label if stamp else "Unstamped mail"
    where = {
        ORGANISATION: "to the organisation",
        EXTERNAL: "outside the organisation",
        THREAD: "to the people on the thread",
    }.get(audience) or f"to the {audience.removeprefix('group ')} group"
    match verdict:
        case Verdict.ALLOW:
            return f"{label} may go {where}"
        case Verdict.HOLD:
            return f"{label} may go {where} only after a reviewer approves"
        case Verdict.BOUNCE:
            return f"{label} may not go {where}"
        case _:
            assert_never(verdict)
