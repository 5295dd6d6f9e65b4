"""The relay's copies of one message: partners' recipients get theirs with our stamp written
in the labels they read (``policies/partners.toml``, docs/partners.md); everyone else the
copy as before. Each copy is made by ``adapters/rewrite.py`` ``outgoing`` with the labels
among the fields the gateway prepends, before anything that signs them."""

from __future__ import annotations

from collections.abc import Sequence

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
            trace: list[tuple[str, str]], single: bool = False) -> list[Parcel]:
    """(recipients, bytes) of every copy to hand to the downstream."""
    made: list[Parcel] = []
    for copy in copies(policy, stamp, recipients, single):
        if copy.labels is None:
            made.append((copy.recipients, outgoing(data, trace)))
        else:
            made.append((copy.recipients,
                         outgoing(data, [*trace, *copy.labels.fields], copy.labels.subject_tag)))
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
