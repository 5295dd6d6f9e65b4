"""The pure policy decision: one frozen value saying what happens to each recipient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.core.context import DecisionContext
from gateway.core.context import ThreadContext as ThreadContext
from gateway.core.model import Location, Stamp, Verdict, strictest
from gateway.core.photos import PhotoFinding, finding_from_dict, finding_to_dict
from gateway.core.policy import Policy
from gateway.core.recipients import Recipient
from gateway.core.register import RegisterFinding
from gateway.core.rules import RULES
from gateway.core.stamps import CLEARED_WITHHELD, StampReading
from gateway.core.tally import Rule, run_rules


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
    # The register's findings in words: field, pseudonym and where, never the value.
    register: tuple[str, ...] = ()
    # Stamps read from labels and attached files, each with what carried it.
    sources: tuple[str, ...] = ()
    # What was found in the message's images: metadata kinds, stripped or not, faces.
    photos: tuple[PhotoFinding, ...] = ()

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
            "register": list(self.register),
            "sources": list(self.sources),
            "photos": [finding_to_dict(f) for f in self.photos],
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
            register=tuple(data.get("register", [])),
            sources=tuple(data.get("sources", [])),
            photos=tuple(finding_from_dict(f) for f in data.get("photos", [])),
        )


def decide(
    policy: Policy,
    reading: StampReading,
    sender: str,
    recipients: Sequence[Recipient],
    thread: ThreadContext | None = None,
    table: Sequence[Rule] = RULES,
    register: Sequence[RegisterFinding] = (),
    sender_verified: bool = True,
    photos: Sequence[PhotoFinding] = (),
) -> Decision:
    """Apply the policy to one message. Pure: same inputs, same decision.

    ``sender_verified`` is ``False`` when the edge could not vouch for ``sender`` (no login,
    no verified upstream): then no group of the sender grants a downgrade.
    """
    context = DecisionContext(policy, reading, sender.lower(), tuple(recipients), thread,
                              tuple(register), sender_verified, tuple(photos))
    tally = run_rules(table, context)
    return Decision(
        stamp=tally.stamp,
        found_in=tally.found_in,
        recipients=tuple(
            RecipientDecision(j.recipient.address, j.recipient.key, j.audience.label, j.groups,
                              j.verdict, j.rule, f"{j.recipient.address}: {j.reason}")
            for j in tally.judgements),
        rules=tuple(dict.fromkeys(tally.hits)),
        reasons=(CLEARED_WITHHELD, *tally.reasons) if reading.withheld else tally.reasons,
        policy_version=policy.version,
        adjustments=reading.adjustments,
        stated_count=reading.stated_count,
        unreadable=context.unreadable,
        downgrade=tally.downgrade,
        thread_id=thread.thread_id if thread else None,
        newcomers=tally.newcomers,
        sender=context.sender,
        embedded=tuple((f.stamp.value, f.location.value, f.depth) for f in reading.embedded),
        register=tuple(f.text for f in context.register),
        sources=tuple(dict.fromkeys(f"{f.stamp.label}: {f.source}"
                                    for f in (*reading.own, *reading.embedded, *reading.guarded)
                                    if f.source)),
        photos=context.photos,
    )
