"""What one decision is made from: the policy, the stamp reading, the envelope, the thread."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.model import Stamp
from gateway.core.photos import PhotoFinding
from gateway.core.policy import Policy
from gateway.core.recipients import Recipient
from gateway.core.register import RegisterFinding
from gateway.core.stamps import StampReading


@dataclass(frozen=True, slots=True)
class ThreadContext:
    """What the store remembers of the thread a message belongs to.

    ``participants`` is ``None`` while no confidential chain has started in the thread.
    """

    thread_id: str
    stamp: Stamp | None
    participants: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """Everything the rules may look at; ``sender`` is folded to lower case."""

    policy: Policy
    reading: StampReading
    sender: str
    recipients: tuple[Recipient, ...]
    thread: ThreadContext | None
    # What the protected-client register found in the message (pseudonyms and fields only).
    register: tuple[RegisterFinding, ...] = ()
    # The edge vouches for ``sender`` (a logged-in user, or a verified upstream said so).
    sender_verified: bool = True

    # What was found in the images the message carries (fields and faces, never values).
    photos: tuple[PhotoFinding, ...] = ()

    @property
    def sender_in_downgrade_group(self) -> bool:
        """Whether the sender address is in a group the organisation lets downgrade."""
        groups = self.policy.groups_of(self.sender, self.sender.rpartition("@")[2])
        return bool(groups & set(self.policy.organisation.may_downgrade))

    @property
    def sender_may_downgrade(self) -> bool:
        """A verified sender in a group the organisation lets downgrade: an address merely
        claimed in ``MAIL FROM`` grants nothing."""
        return self.sender_verified and self.sender_in_downgrade_group

    @property
    def unreadable(self) -> tuple[str, ...]:
        """What could not be read, unless a Cleared stamp was read in this very message.

        An inherited Cleared stamp does not lift the doubt: only the sender's own does.
        """
        if self.reading.stamp is Stamp.CLEARED:
            return ()
        return tuple(dict.fromkeys(self.reading.unreadable))

    def participants(self, stamp: Stamp | None) -> frozenset[str] | None:
        """Who is on the confidential chain; one that starts here starts with the sender
        and the organisation's recipients."""
        thread = self.thread
        if thread is not None and thread.participants is not None:
            return thread.participants
        if stamp is not Stamp.CONFIDENTIAL:
            return None
        starters = {r.key for r in self.recipients if self.policy.is_organisation(r.domain)}
        return frozenset(starters | {self.sender})
