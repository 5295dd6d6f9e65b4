"""An outcome of the submit use case, answered in the milter protocol.

The same decision as the relay's, in the MTA's terms: a bounce is the relay's ``550 5.7.1``
reply; a partial hold removes the held recipients from this delivery; a whole hold is
discarded from the MTA's queue (the message is kept only in the held store), or, with
``[milter] held = "postfix-hold"``, quarantined in the MTA's hold queue as well (see
docs/deploy.md); store trouble is the relay's ``451``, a temporary failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from kilter.protocol.core import EditMessage, ResponseMessage
from kilter.protocol.messages import Continue, Discard, Quarantine, RemoveRecipient, ReplyCode

from gateway.core.model import Verdict
from gateway.milter.message import body_edits, header_edits
from gateway.service.outcome import Outcome, OutcomeKind
from gateway.smtp import replies


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message as the MTA described it: RCPT arguments as given, and the parsed address."""

    recipients: tuple[tuple[str, str], ...]  # (the argument as the MTA sent it, the address)
    headers: tuple[tuple[str, bytes], ...]
    data: bytes


def reply(text: str) -> ReplyCode:
    """A reply for the MTA to give the client; ``%`` is doubled as libmilter requires."""
    return ReplyCode(text.replace("%", "%%").encode("utf-8", "replace") + b"\0")


# The reason the MTA logs with its copy of a wholly held message (Postfix: "milter-hold:").
QUARANTINE_REASON = ("held for review by stampgate as {hold_id}; release it in stampgate's "
                     "review only: postsuper -H would deliver it unreviewed; delete it with "
                     "postsuper -d")


def answer(outcome: Outcome, envelope: Envelope, relayed: bytes | None,
           quarantine: bool = False) -> tuple[list[EditMessage | Quarantine], ResponseMessage]:
    """The edits to send before the final response, and the final response.

    ``quarantine``: a wholly held message goes to the MTA's hold queue (accepted, its copy
    kept there, the client's copies of the gateway's own fields removed) instead of being
    discarded; the held store has it either way.
    """
    match outcome.kind:
        case OutcomeKind.RELAYED | OutcomeKind.PARTLY_HELD:
            assert outcome.decision is not None
            held = set(outcome.decision.addresses(Verdict.HOLD))
            edits: list[EditMessage | Quarantine] = [RemoveRecipient(argument)
                                        for argument, address in envelope.recipients
                                        if address in held]
            edits.extend(header_edits(envelope.headers, envelope.data, relayed))
            edits.extend(body_edits(envelope.data, relayed))
            # (A client's retry is let through again: the MTA may or may not have queued the
            # earlier attempt, and the edge hands over the copy the relay would send again.)
            return edits, Continue()
        case OutcomeKind.HELD if quarantine:
            # (a retry of a held message: held once in the store, quarantined again)
            reason = QUARANTINE_REASON.format(hold_id=outcome.hold_id or "unknown")
            return [*header_edits(envelope.headers, envelope.data, None),
                    Quarantine(reason)], Continue()
        case OutcomeKind.HELD:
            return [], Discard()  # (a retry of a held message: held once, discarded again)
        case (OutcomeKind.BOUNCED | OutcomeKind.DEFERRED | OutcomeKind.DOWNSTREAM_REFUSED
              | OutcomeKind.STORE_FAILED | OutcomeKind.IN_PROGRESS
              | OutcomeKind.REFUSED_INPUT | OutcomeKind.INTERNAL_ERROR):
            return [], reply(replies.for_outcome(outcome))
        case _:
            assert_never(outcome.kind)
