"""The review's values: actions, the state machine, what a decision returns, its errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import assert_never

from gateway.store.records import HeldMessage, HeldState


class Action(enum.Enum):
    """What a reviewer (or the clock) can do to a held message."""

    RELEASE = "release"
    REJECT = "reject"
    DISCARD = "discard"
    EXPIRE = "expire"


class ReviewError(Exception):
    """A decision that cannot be made; the message says why and what to do."""


class NotFound(ReviewError):
    def __init__(self, hold_id: str) -> None:
        super().__init__(f"no held message {hold_id!r}")
        self.hold_id = hold_id


class AlreadyDecided(ReviewError):
    """Someone decided first (or the message expired): nothing was changed."""

    def __init__(self, hold: HeldMessage) -> None:
        by = f" by {hold.decided_by}" if hold.decided_by else ""
        at = f" at {hold.decided_at:%Y-%m-%d %H:%M:%S} UTC" if hold.decided_at else ""
        super().__init__(f"{hold.id} was already decided: {hold.state.value}{by}{at}; "
                         "nothing was changed")
        self.hold = hold


class Refused(ReviewError):
    """The request itself is wrong (a recipient not held, no reason, adjustments unticked)."""


class NotAReviewer(Refused):
    """A decision in the name of someone who has no enabled reviewer account."""


class FourEyes(Refused):
    """The reviewer sent the message themselves: another reviewer must release it."""


class ContentGone(ReviewError):
    """The held content can no longer be read (its key was destroyed, or no key is set)."""


def next_state(state: HeldState, action: Action) -> HeldState:
    """The state machine: only a held message can be decided, and every decision is final."""
    match state:
        case HeldState.HELD:
            return _target(action)
        case HeldState.RELEASED | HeldState.REJECTED | HeldState.DISCARDED | HeldState.EXPIRED:
            raise ReviewError(f"a {state.value} message cannot be {_past(action)}")
        case _:
            assert_never(state)


def _target(action: Action) -> HeldState:
    match action:
        case Action.RELEASE:
            return HeldState.RELEASED
        case Action.REJECT:
            return HeldState.REJECTED
        case Action.DISCARD:
            return HeldState.DISCARDED
        case Action.EXPIRE:
            return HeldState.EXPIRED
        case _:
            assert_never(action)


def _past(action: Action) -> str:
    return {Action.RELEASE: "released", Action.REJECT: "rejected",
            Action.DISCARD: "discarded", Action.EXPIRE: "expired"}[action]


@dataclass(frozen=True, slots=True)
class Decided:
    """The outcome of one decision."""

    hold_id: str
    state: HeldState
    by: str
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BulkResult:
    """One id of a bulk decision: decided, refused with an error, or skipped (and why)."""

    hold_id: str
    decided: Decided | None
    error: str | None
    skipped: bool = False
