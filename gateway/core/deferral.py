"""Whether a message's attached documents can stay unread: the two-phase read's one rule.

The first pass (``read_message(defer_documents=True)``) reads everything but the documents.
What a document can add to the decision is known in kind: a stamp of its own (embedded
content, up to the strictest stamp), a label no policy maps or a file that cannot be read
(unreadable content), text that names a protected client (the register). None of these can
make any recipient's verdict laxer. So the documents can stay unread when, for every stamp a
document could carry, the decision with all of that added judges every recipient exactly as
the first pass does: same verdict, same rule, same reason, and the same downgrade note.
Photos are not documents: they are scanned on their own, wherever the photo policy applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from gateway.core.context import ThreadContext
from gateway.core.decision import Decision, decide
from gateway.core.model import Location, Stamp
from gateway.core.policy import Policy
from gateway.core.recipients import Recipient
from gateway.core.register import ClientField, Reach, RegisterFinding, Where
from gateway.core.stamps import StampFinding, StampReading

UNREAD = "an attached document not yet read"
# The most a document could add for the register: a protected client named, for everyone
# the register guards.
_NAMED = RegisterFinding(UNREAD, ClientField.NAME, (Where.DOCUMENT,), Reach.GUARDED)


def documents_can_wait(policy: Policy, reading: StampReading, sender: str,
                       recipients: Sequence[Recipient], thread: ThreadContext | None,
                       sender_verified: bool = True) -> bool:
    """True when nothing an attached document may say can change how any recipient is
    judged: ``reading`` is the first pass's, which read every part but the documents."""
    first = decide(policy, reading, sender, recipients, thread,
                   sender_verified=sender_verified)
    for stamp in Stamp:
        worst = replace(
            reading,
            embedded=(*reading.embedded,
                      StampFinding(stamp, Location.ATTACHED, 1, source=UNREAD)),
            unreadable=(*reading.unreadable, UNREAD),
            files=(*reading.files, UNREAD))
        judged = decide(policy, worst, sender, recipients, thread, register=(_NAMED,),
                        sender_verified=sender_verified)
        if _judged(judged) != _judged(first):
            return False
    return True


def register_guards_someone(policy: Policy, recipients: Sequence[Recipient]) -> bool:
    """Whether the protected-client register can matter for this envelope: a recipient
    outside the organisation or in a ``register_guards`` group (the ``register`` rule holds
    mail for those only). Without one, the register need not be searched at all."""
    guards = set(policy.organisation.register_guards)
    return any(not policy.is_organisation(r.domain) or guards & policy.groups_of(r.key, r.domain)
               for r in recipients)


def _judged(decision: Decision) -> tuple[object, ...]:
    return (tuple((r.address, r.verdict, r.rule, r.reason) for r in decision.recipients),
            decision.downgrade, decision.newcomers)
