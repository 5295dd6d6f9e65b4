"""A decision said in words, for policy admins (``stampgate policy explain``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from gateway.core.decision import Decision, RecipientDecision
from gateway.core.model import Location, Verdict
from gateway.core.policy import AudienceRule, Policy
from gateway.core.tally import Rule

_WHERE = {
    Location.BODY: "the first line of the plain-text body",
    Location.HTML: "the first line of the HTML body",
    Location.SUBJECT: "the Subject",
    Location.HEADER: "the X-Stamp header",
    Location.QUOTED: "quoted text",
    Location.FORWARDED: "a forwarded message",
    Location.ATTACHED: "an attached message",
    Location.THREAD: "the thread it replies to",
    Location.DOCUMENT: "an attached document",
    Location.LABEL: "a sensitivity label (msip_labels header)",
    Location.LABEL_HEADER: "a partner's label header (X-Protective-Marking, SIO-Label, X-TLP)",
    Location.SHOWN_HEADER: "a header Outlook shows (Sensitivity, X-Message-Flag, Thread-Topic)",
}


def where_found(locations: tuple[Location, ...]) -> str:
    """``the Subject and the X-Stamp header``: where a stamp was read."""
    names = [_WHERE[location] for location in locations]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def outcome(decision: Decision) -> str:
    """What happens to the message as a whole, as the sender's mail client sees it."""
    verdict = decision.verdict
    match verdict:
        case Verdict.BOUNCE:
            refused = ", ".join(decision.addresses(Verdict.BOUNCE))
            return (f"BOUNCE: refused with 550 5.7.1 because of {refused}; "
                    "nothing is delivered to anyone")
        case Verdict.HOLD:
            allowed = ", ".join(decision.addresses(Verdict.ALLOW)) or "nobody"
            held = ", ".join(decision.addresses(Verdict.HOLD))
            return (f"HOLD: accepted (250); delivered now to {allowed}; "
                    f"held for a reviewer for {held}")
        case Verdict.ALLOW:
            return "ALLOW: accepted (250) and delivered to every recipient"
        case _:
            assert_never(verdict)


def explain(decision: Decision, source: str = "") -> str:
    """Every part of a decision as lines of text an admin can read top to bottom."""
    lines: list[str] = []
    policy = f"policy version {decision.policy_version}"
    lines.append(f"{policy} ({source})" if source else policy)
    if decision.stamp is None:
        lines.append("stamp:    none found (unstamped mail)")
    else:
        lines.append(f"stamp:    {decision.stamp.label} ({decision.stamp.value}), "
                     f"found in {where_found(decision.found_in)}")
    if decision.adjustments or decision.stated_count is not None:
        stated = f" (the stamp says {decision.stated_count})" if decision.stated_count else ""
        listed = "; ".join(decision.adjustments) or "none listed"
        lines.append(f"adjustments: {listed}{stated}")
    for source in decision.sources:
        lines.append(f"read from: {source}")
    for stamp, location, depth in decision.embedded:
        lines.append(f"embedded: {stamp} in {location} content (depth {depth})")
    if decision.unreadable:
        lines.append("unreadable: " + "; ".join(decision.unreadable))
    if decision.downgrade:
        lines.append(f"downgrade: {decision.downgrade}")
    if decision.thread_id:
        lines.append(f"thread:   {decision.thread_id}")
    if decision.sender:
        lines.append(f"sender:   {decision.sender}")
    lines.append(f"outcome:  {outcome(decision)}")
    lines.append("recipients:")
    for recipient in decision.recipients:
        lines.extend(_recipient(recipient))
    lines.append("rules fired: " + (", ".join(decision.rules) or "none"))
    if decision.reasons:
        lines.append("reasons:")
        lines.extend(f"  - {reason}" for reason in decision.reasons)
    return "\n".join(lines)


def _recipient(recipient: RecipientDecision) -> list[str]:
    groups = ", ".join(recipient.groups) or "none"
    reason = recipient.reason.removeprefix(f"{recipient.address}: ")
    return [
        f"  {recipient.address}: {recipient.verdict.value.upper()}",
        f"      audience {recipient.audience}; groups {groups}; rule {recipient.rule}",
        f"      {reason}",
    ]


def rule_table(policy: Policy, table: Sequence[Rule], source: str = "") -> str:
    """The rules in the order ``decide`` runs them, then every audience rule of ``policy``."""
    version = f"policy version {policy.version}"
    lines = [f"{version} ({source})" if source else version,
             "rules, in the order they run (each one that applies is listed under "
             "'rules fired'):"]
    width = max((len(rule.name) for rule in table), default=0)
    for number, rule in enumerate(table, start=1):
        lines.append(f"  {number:>2}. {rule.name:<{width}}  {rule.description}")
    lines.append("audience rules from rules.toml (STAMP.AUDIENCE and unreadable.AUDIENCE); "
                 "for one recipient the first listed that applies:")
    for name, audience_rule in policy.rules.named():
        described = f": {audience_rule.description}" if audience_rule.description else ""
        lines.append(f"  [{name}]{described}")
        entries = _audience_entries(name, audience_rule)
        width = max(len(entry) for entry, _ in entries)
        lines.extend(f"    {entry:<{width}}  {verdict.value}" for entry, verdict in entries)
    return "\n".join(lines)


def _audience_entries(name: str, rule: AudienceRule) -> list[tuple[str, Verdict]]:
    """A rule's verdicts in the order they are tried: groups, external, thread, organisation."""
    entries = [(f"{name}.groups.{group}", verdict)
               for group, verdict in sorted(rule.groups.items())]
    entries.append((f"{name}.external", rule.external))
    if rule.thread is not None:
        entries.append((f"{name}.thread", rule.thread))
    entries.append((f"{name}.organisation", rule.organisation))
    return entries
