"""The relay's copies of one message: partners' recipients get theirs with our stamp written
in the labels they read (``policies/partners.toml``, docs/partners.md); everyone else the
copy as before. Each copy is made by ``adapters/rewrite.py`` ``outgoing`` with the labels
among the fields the gateway prepends, before anything that signs them.

Each copy is its own transaction with the downstream. The relay (``hand_over``) notes whose
copies the downstream took, so that a retry after a later copy failed sends only the others
(``still_to_send``); the outbox (``deliver``) sends a released message's copies as a whole.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from gateway.adapters.delivery import DeliveryError, Downstream
from gateway.adapters.rewrite import outgoing
from gateway.core.label_writers import copies
from gateway.core.model import Stamp
from gateway.core.policy import Policy
from gateway.core.recipients import Recipient
from gateway.logs import get_logger

log = get_logger()
Parcel = tuple[tuple[str, ...], bytes]


def parcels(policy: Policy, stamp: Stamp | None, recipients: Sequence[Recipient], data: bytes,
            trace: list[tuple[str, str]], single: bool = False, *,
            checked: bool = False) -> list[Parcel]:
    """(recipients, bytes) of every copy to hand to the downstream. ``checked``: every CR and
    LF of ``data`` is known to be in a CRLF pair (``rewrite.outgoing``)."""
    made: list[Parcel] = []
    for copy in copies(policy, stamp, recipients, single):
        if copy.labels is None:
            made.append((copy.recipients, outgoing(data, trace, checked=checked)))
        else:
            made.append((copy.recipients,
                         outgoing(data, [*trace, *copy.labels.fields], copy.labels.subject_tag,
                                  checked=checked)))
    return made


async def deliver(downstream: Downstream, sender: str, made: Sequence[Parcel],
                  ref: str) -> None:
    """Hand every copy to the downstream in turn. A failure after an earlier copy was taken
    is raised as uncertain: part of the message may have been delivered. ``ref`` names the
    message in the log (a queue id, an outbox entry)."""
    for index, (recipients, data) in enumerate(made):
        try:
            await downstream.deliver(sender, recipients, data)
        except DeliveryError as exc:
            if index == 0:
                raise
            log.warning("partial-delivery", ref=ref, copies=len(made),
                        delivered_copies=index)
            raise DeliveryError(exc.temporary, exc.detail, exc.code, uncertain=True) from exc


@dataclass(slots=True)
class Handover:
    """What the downstream made of the copies ``hand_over`` gave it."""

    refused: list[tuple[tuple[str, ...], DeliveryError]] = field(default_factory=list)
    stopped: DeliveryError | None = None  # the temporary failure the hand-over stopped at

    @property
    def failure(self) -> DeliveryError | None:
        """Why the message is not accepted: a temporary failure (the client retries), else
        the first refusal for good; None when every copy was taken."""
        if self.stopped is not None:
            return self.stopped
        return self.refused[0][1] if self.refused else None

    @property
    def refused_recipients(self) -> tuple[str, ...]:
        return tuple(r for recipients, _ in self.refused for r in recipients)


def still_to_send(made: Sequence[Parcel], delivered: Collection[str]) -> list[Parcel]:
    """The copies whose recipients the downstream did not all take before, each for those
    of its recipients it did not take (addresses compare case-insensitively, as in the
    acceptance key)."""
    done = {address.lower() for address in delivered}
    left: list[Parcel] = []
    for recipients, data in made:
        rest = tuple(r for r in recipients if r.lower() not in done)
        if rest:
            left.append((rest, data))
    return left


async def hand_over(downstream: Downstream, sender: str, made: Sequence[Parcel], ref: str,
                    taken: set[str]) -> Handover:
    """Hand every copy to the downstream in turn, adding the recipients of each copy it takes
    to ``taken`` as it goes. A copy refused for good does not stop the others (as an MTA
    that refuses one recipient still delivers to the rest); a temporary failure does: the
    client's retry sends what is left."""
    handover = Handover()
    copies = 0
    for recipients, data in made:
        try:
            await downstream.deliver(sender, recipients, data)
        except DeliveryError as exc:
            if exc.temporary:
                handover.stopped = exc
                break
            handover.refused.append((recipients, exc))
            continue
        taken.update(recipients)
        copies += 1
    if copies and handover.failure is not None:
        log.warning("partial-delivery", ref=ref, copies=len(made), delivered_copies=copies)
    return handover
