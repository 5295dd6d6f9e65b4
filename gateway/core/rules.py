"""The decision rules as objects, and the ordered table that ``decide`` runs."""

from __future__ import annotations

from dataclasses import dataclass, replace

from gateway.core.audience import AudienceKind, place, verdict_reason
from gateway.core.context import DecisionContext
from gateway.core.model import Location, Stamp, Verdict
from gateway.core.photo_rules import PhotoFaces, PhotoMetadata
from gateway.core.register import Reach
from gateway.core.rules_attachments import UnreadableAttachment
from gateway.core.rules_labels import LabelConflict, LabelHeaders
from gateway.core.stamps import strictest_finding
from gateway.core.tally import Hit, Judgement, Rule, Tally

UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class StricterSource:
    """Embedded or thread content stamped more strictly than the message itself."""

    stamp: Stamp
    where: str


def stricter_source(context: DecisionContext, stamp: Stamp | None) -> StricterSource | None:
    """The strictest embedded or thread stamp above ``stamp``, if any."""
    own_rank = stamp.rank if stamp else 0
    candidates: list[StricterSource] = []
    best = strictest_finding(context.reading.embedded)
    if best is not None:
        where = best.source or f"{best.location.value} content"
        candidates.append(StricterSource(best.stamp, where))
    thread = context.thread
    if thread is not None and thread.stamp is not None:
        candidates.append(StricterSource(thread.stamp, f"thread {thread.thread_id}"))
    above = [c for c in candidates if c.stamp.rank > own_rank]
    # Tie-break: on equal stamps the embedded content is named, as the sender can see it.
    return max(above, key=lambda c: c.stamp.rank) if above else None


def _downgrade_note(source: StricterSource, stamp: Stamp | None) -> str:
    return f"downgrade from {source.stamp.label} to {stamp.label if stamp else 'no stamp'}"


class ThreadInherit:
    """An unstamped reply takes its thread's stamp."""

    name = "thread-inherit"
    description = "an unstamped reply to a known thread takes the thread's stamp"

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        thread = context.thread
        if tally.stamp is not None or thread is None or thread.stamp is None:
            return None
        reason = f"unstamped reply inherits the thread's stamp ({thread.stamp.label})"
        return Hit((self.name,), replace(tally, stamp=thread.stamp, found_in=(Location.THREAD,),
                                         reasons=(*tally.reasons, reason)))


class DowngradePermitted:
    """A downgrade by someone allowed to make one is noted, not held."""

    name = "downgrade-permitted"
    description = ("stricter embedded or thread content, sent by a member of a may_downgrade "
                   "group: noted, nobody held")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        source = stricter_source(context, tally.stamp)
        if source is None or not context.sender_may_downgrade:
            return None
        note = _downgrade_note(source, tally.stamp)
        reason = f"{note} by {context.sender}, a member of a group that may downgrade"
        return Hit((self.name,), replace(tally, downgrade=f"{note} (permitted)",
                                         reasons=(*tally.reasons, reason)))


class AudienceRules:
    """The policy's audience rule for the stamp judges every recipient."""

    name = "STAMP.AUDIENCE"
    description = ("the stamp's rule in rules.toml (or [unstamped]) for the recipient's "
                   "audience: a group it names (the strictest), else external, else thread "
                   "participant, else organisation")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        policy = context.policy
        index = policy.index
        rule_name, rule = policy.rules.for_stamp(tally.stamp)
        participants = context.participants(tally.stamp)
        judgements: list[Judgement] = []
        for recipient in context.recipients:
            groups = tuple(sorted(index.groups_of(recipient.key, recipient.domain)))
            is_organisation = index.is_organisation(recipient.domain)
            participant = participants is not None and recipient.key in participants
            placed = place(rule_name, rule, groups, is_organisation, participant)
            judgements.append(Judgement(
                recipient, groups, is_organisation, participant, placed.audience,
                placed.verdict, placed.rule,
                verdict_reason(tally.stamp, placed.audience, placed.verdict)))
        return Hit(tuple(j.rule for j in judgements),
                   replace(tally, judged=True, judgements=tuple(judgements)))


class Downgrade:
    """Stricter content under a lower stamp is held for whom the stricter stamp excludes."""

    name = "downgrade"
    description = ("stricter embedded or thread content from anyone else: held for every "
                   "recipient the stricter stamp would not allow (a bounce stays a bounce)")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        judgements = tally.require_judged(self.name)
        source = stricter_source(context, tally.stamp)
        if source is None or context.sender_may_downgrade:
            return None
        note = _downgrade_note(source, tally.stamp)
        reason = (f"{note} ({source.where}): held for recipients {source.stamp.label} "
                  "would not allow")
        if context.sender_in_downgrade_group:
            reason += (f"; {context.sender} may downgrade, but the sender was not verified "
                       "(log in with AUTH, or send through a verified upstream)")
        stricter_name, stricter_rule = context.policy.rules.for_stamp(source.stamp)
        judged: list[Judgement] = []
        for judgement in judgements:
            if judgement.verdict is not Verdict.BOUNCE:
                placed = place(stricter_name, stricter_rule, judgement.groups,
                               judgement.is_organisation, judgement.participant)
                # Tie-break: the downgrade takes over a hold as well, because the downgrade
                # is what the reviewer has to look at.
                if placed.verdict is not Verdict.ALLOW:
                    judgement = replace(
                        judgement, verdict=Verdict.HOLD, rule=self.name,
                        reason=f"{note}: {source.stamp.label} material may not go to "
                               f"{placed.audience.label} without review")
            judged.append(judgement)
        return Hit((self.name,), replace(tally, downgrade=note, judgements=tuple(judged),
                                         reasons=(*tally.reasons, reason)))


class Unreadable:
    """Content that cannot be read gets the ``[unreadable]`` verdict where that is stricter."""

    name = f"{UNREADABLE}.AUDIENCE"
    description = ("content that cannot be read, without a Cleared stamp read in the message "
                   "itself: the [unreadable] rule's verdict, where it is stricter")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        judgements = tally.require_judged(self.name)
        unreadable = context.unreadable
        if not unreadable:
            return None
        rule = context.policy.rules.unreadable
        reason = f"content could not be read ({'; '.join(unreadable)}): treated as not cleared"
        names: list[str] = []
        judged: list[Judgement] = []
        for judgement in judgements:
            placed = place(UNREADABLE, rule, judgement.groups, judgement.is_organisation,
                           judgement.participant)
            names.append(placed.rule)
            # Tie-break: on an equal verdict the rule that already decided stays the reason;
            # it says more about the recipient than "unreadable" does.
            if placed.verdict.rank > judgement.verdict.rank:
                judgement = replace(
                    judgement, verdict=placed.verdict, rule=placed.rule,
                    reason=f"content could not be read, so it may not go to "
                           f"{placed.audience.label}")
            judged.append(judgement)
        return Hit(tuple(names), replace(tally, judgements=tuple(judged),
                                         reasons=(*tally.reasons, reason)))


class ThreadNewcomer:
    """Organisation recipients new to a confidential chain are named as newcomers."""

    name = "thread-newcomer"
    description = ("confidential mail in a known thread to an organisation recipient not on "
                   "its chain: named as a newcomer who needs approval")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        judgements = tally.require_judged(self.name)
        thread = context.thread
        if tally.stamp is not Stamp.CONFIDENTIAL or thread is None:
            return None
        if context.participants(tally.stamp) is None:
            raise AssertionError("a confidential message always has a chain")
        newcomers: list[str] = []
        judged: list[Judgement] = []
        for judgement in judgements:
            if judgement.audience.kind is AudienceKind.ORGANISATION and not judgement.participant:
                newcomers.append(judgement.recipient.address)
                judgement = replace(judgement, reason=f"new to the confidential thread "
                                                      f"{thread.thread_id}: needs approval")
            judged.append(judgement)
        if not newcomers:
            return None
        return Hit((self.name,), replace(tally, judgements=tuple(judged),
                                         newcomers=tuple(newcomers)))


class AdjustmentCount:
    """A Needs adjustment stamp whose stated count disagrees with its list is pointed out."""

    name = "adjustment-count"
    description = ("a Needs adjustment stamp that states a number of adjustments but lists "
                   "another: said in the reasons, the verdicts stay")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        reading = context.reading
        stated, listed = reading.stated_count, len(reading.adjustments)
        if tally.stamp is not Stamp.NEEDS_ADJUSTMENT or stated is None or not listed:
            return None
        if listed == stated:
            return None
        reason = f"the stamp states {stated} adjustments but lists {listed}"
        return Hit((self.name,), replace(tally, reasons=(*tally.reasons, reason)))


class ProtectedClients:
    """A protected client's real name or withheld facts are held on their way out."""

    name = "register"
    description = ("the protected-client register: a real name, a withheld fact next to the "
                   "client's pseudonym or name (to register_guards groups and outside), the "
                   "pseudonym of a client not yet resettled (outside): held")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        judgements = tally.require_judged(self.name)
        if not context.register:
            return None
        guards = set(context.policy.organisation.register_guards)
        judged: list[Judgement] = []
        for judgement in judgements:
            outside = not judgement.is_organisation
            guarded = outside or bool(guards & set(judgement.groups))
            found = [f.text for f in context.register
                     if (f.reach is Reach.GUARDED and guarded)
                     or (f.reach is Reach.EXTERNAL and outside)]
            # A bounce stays a bounce; a hold by another rule is taken over, because the
            # reviewer must see what the register found.
            if found and judgement.verdict is not Verdict.BOUNCE:
                judgement = replace(judgement, verdict=Verdict.HOLD, rule=self.name,
                                    reason="; ".join(found))
            judged.append(judgement)
        reasons = tuple(f"protected client: {f.text}" for f in context.register)
        return Hit((self.name,), replace(tally, judgements=tuple(judged),
                                         reasons=(*tally.reasons, *reasons)))


# The order is the decision. The stamp must be settled (thread-inherit, then a stricter
# label header) before the audience rule reads it; a permitted downgrade is noted before
# anyone is judged; the rules that refine a verdict (downgrade, unreadable, register) come
# after the audience rule, and only ever make it stricter (the photo rules, then the
# register last, so that its reason is the one shown); the newcomer, adjustment and label
# conflict rules change words, not verdicts.
RULES: tuple[Rule, ...] = (
    ThreadInherit(),
    LabelHeaders(),
    LabelConflict(),
    DowngradePermitted(),
    AudienceRules(),
    Downgrade(),
    Unreadable(),
    UnreadableAttachment(),
    PhotoMetadata(),
    PhotoFaces(),
    ProtectedClients(),
    ThreadNewcomer(),
    AdjustmentCount(),
)

