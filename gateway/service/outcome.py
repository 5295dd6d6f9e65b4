"""What became of one submitted message: the values every edge renders (SMTP, milter)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.core.decision import Decision
from gateway.core.headers import has_bare_line_ending


class OutcomeKind(enum.Enum):
    """What became of one submitted message."""

    RELAYED = "relayed"
    HELD = "held"
    PARTLY_HELD = "partly-held"
    BOUNCED = "bounced"
    DEFERRED = "deferred"
    DOWNSTREAM_REFUSED = "downstream-refused"
    STORE_FAILED = "store-failed"
    IN_PROGRESS = "in-progress"  # the same message is at work on another connection
    REFUSED_INPUT = "refused-input"
    INTERNAL_ERROR = "internal-error"


class InputProblem(enum.Enum):
    """Why the bytes of a message were refused before they were read."""

    NUL = "nul"
    BARE_LINE_ENDING = "bare-line-ending"
    AMBIGUOUS_HEADERS = "ambiguous-headers"
    HEADER_TOO_BIG = "header-too-big"


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message as an edge received it: the envelope, the bytes, who handed it over."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    peer: str
    helo: str | None = None
    # The edge vouches for ``sender``: a logged-in user, or a verified upstream's header.
    # Only a verified sender's groups grant rights such as downgrading.
    sender_verified: bool = False
    # The edge already found ``data`` free of NUL and of bare line endings
    # (``input_problem`` is None): the use case does not look again.
    clean: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one message, for the edge to answer and for the logs and metrics."""

    kind: OutcomeKind
    queue_id: str
    decision: Decision | None = None
    hold_id: str | None = None
    held: int = 0
    delivered: int = 0
    detail: str = ""
    code: int | None = None  # the downstream's reply code, when it refused
    during: str | None = None  # the store operation that failed
    problem: InputProblem | None = None
    repeated: bool = False  # the answer an earlier attempt of the same message got
    # Not accepted, but some copies went: the recipients the downstream took (in this attempt
    # or one before) and those whose copies it refused for good.
    reached: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()


def input_problem(data: bytes) -> InputProblem | None:
    if b"\0" in data:
        return InputProblem.NUL
    if has_bare_line_ending(data):
        return InputProblem.BARE_LINE_ENDING
    return None
