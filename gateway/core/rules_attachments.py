"""Rules about attached files: a file that cannot be read does not leave the organisation."""

from __future__ import annotations

from dataclasses import replace

from gateway.core.context import DecisionContext
from gateway.core.model import Verdict
from gateway.core.tally import Hit, Judgement, Tally


class UnreadableAttachment:
    """An attachment that cannot be read (encrypted, corrupt, over a bound) is held outside."""

    name = "attachment-unreadable"
    description = ("an attached file that cannot be read (encrypted, password zip, corrupt, "
                   "zip bomb, over the size bounds), whatever the stamp: held for "
                   "register_guards groups (communications) and outside; the organisation "
                   "gets it")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        judgements = tally.require_judged(self.name)
        files = context.reading.files
        if not files:
            return None
        guards = set(context.policy.organisation.register_guards)
        reason = "; ".join(files)
        judged: list[Judgement] = []
        for judgement in judgements:
            guarded = not judgement.is_organisation or bool(guards & set(judgement.groups))
            # A bounce stays a bounce and a hold keeps the rule that made it; only a
            # recipient who would get the message now is held.
            if guarded and judgement.verdict is Verdict.ALLOW:
                judgement = replace(judgement, verdict=Verdict.HOLD, rule=self.name,
                                    reason=f"{reason}: held for review before it goes to "
                                           f"{judgement.audience.label}")
            judged.append(judgement)
        return Hit((self.name,), replace(tally, judgements=tuple(judged),
                                         reasons=(*tally.reasons, *files)))
