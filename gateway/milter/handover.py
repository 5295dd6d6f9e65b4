"""The downstream of a milter's submit: the MTA that asked delivers the allowed part itself.

``Submitter.submit`` hands the allowed recipients' copy, with the gateway's own fields, to its
downstream. In milter mode that copy is not sent anywhere: the MTA keeps the message in its
queue and delivers it once the milter answers, so the hand-over only records what the relay
would have sent, and the milter turns it into header edits.
"""

from __future__ import annotations

from collections.abc import Sequence


class MtaDelivers:
    """A ``Downstream`` for one message: records the copy the MTA is to deliver."""

    description = "the MTA that called the milter"
    single_copy = True  # the MTA delivers the one message it holds to every recipient

    def __init__(self) -> None:
        self.recipients: tuple[str, ...] = ()
        self.data: bytes | None = None

    async def deliver(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        self.recipients = tuple(recipients)
        self.data = data

    async def close(self) -> None:
        return None
