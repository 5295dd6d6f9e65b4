"""SMTP replies the gateway gives, as named constants and small renderers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import assert_never

from gateway.core.decision import Decision
from gateway.core.model import Verdict
from gateway.core.stamps import CLEARED_WITHHELD
from gateway.service.outcome import InputProblem, Outcome, OutcomeKind

UNTRUSTED = "554 5.7.1 Relay access denied: {peer} is not a trusted network of this gateway"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
BARE_LINE_ENDING = ("550 5.5.2 Message refused: bare CR or LF line ending in DATA; "
                    "lines must end with CRLF")
NUL_IN_DATA = "550 5.6.0 Message refused: NUL character in DATA"
AMBIGUOUS_HEADERS = ("550 5.6.0 Message refused: where the header block ends is ambiguous "
                     "({why}); every header line must be 'Name: value' or a folded continuation")
TOO_BIG = "552 5.3.4 Message too big for this gateway (limit {limit} bytes)"
HEADER_TOO_BIG = ("552 5.3.4 Message refused: its header block is longer than this gateway "
                  "accepts (limit {limit} bytes)")
STORE_FAILED = ("451 4.3.0 Message not accepted: the gateway's store failed while {step}; "
                "try again later")
NO_SPACE = ("452 4.3.1 Insufficient system storage: the gateway is low on disk space; "
            "try again later")
DOWNSTREAM_TEMPORARY = ("451 4.4.1 Message not accepted: onward delivery failed ({detail}); "
                        "try again later")
INTERNAL_ERROR = "451 4.3.0 Message not accepted: internal error; try again later"
IN_PROGRESS = ("451 4.3.0 Message not accepted yet: the same message is already being "
               "processed on another connection; retry later")


def multiline(code: str, enhanced: str, lines: Iterable[str]) -> str:
    """``550-5.7.1 a`` ... ``550 5.7.1 z``; CR and LF inside a line are flattened."""
    items = [" ".join(line.split()) for line in lines if line.strip()]
    out = [f"{code}-{enhanced} {line}" for line in items[:-1]]
    out.append(f"{code} {enhanced} {items[-1]}")
    return "\r\n".join(out)


def bounce(decision: Decision) -> str:
    """Why the message was refused: each offending recipient, its group, the stamp, what to do."""
    stamp = decision.stamp_label
    where = ", ".join(loc.value for loc in decision.found_in) or "none"
    lines = [f"Message refused: nothing was delivered to anyone "
             f"(stamp: {stamp}; found in: {where})"]
    for r in decision.recipients:
        if r.verdict is Verdict.BOUNCE:
            group = f"group {', '.join(r.groups)}" if r.groups else r.audience
            lines.append(f"<{r.address}> ({group}): {r.reason.split(': ', 1)[-1]} [rule {r.rule}]")
    lines.append(_advice(decision))
    return multiline("550", "5.7.1", lines)


def _advice(decision: Decision) -> str:
    if decision.stamp is None and CLEARED_WITHHELD in decision.reasons:
        return ("What to do: a Cleared stamp was found, but not on the first line of every "
                "version a reader sees (it is hidden, struck through, in one alternative "
                "only, or in a charset some mail clients cannot show); write it visibly on "
                "the first line and send again")
    if decision.stamp is None:
        return ("What to do: communications staff receive only stamped material; remove those "
                "recipients, or put a stamp on the first line (e.g. 'Cleared for publication') "
                "if the content may go to them")
    return ("What to do: remove those recipients and send again; if the content may now be "
            "shared more widely, ask management to review and re-stamp it")


def accepted(queue_id: str, hold_id: str | None, held: int, delivered: int) -> str:
    if hold_id is None:
        return f"250 2.0.0 Ok: queued as {queue_id}"
    if delivered:
        return (f"250 2.0.0 Ok: queued as {queue_id}; delivered to {delivered} recipient(s), "
                f"held for review as {hold_id} for {held} recipient(s)")
    return f"250 2.0.0 Ok: held for review as {hold_id} for {held} recipient(s)"


_STORE_STEPS = {"hold": "storing the hold for review", "thread memory": "recording the thread",
                "thread look-up": "looking up the thread",
                "register": "checking the protected-client register"}


def store_failed(during: str | None) -> str:
    """Which step of the store failed: only a failed hold concerns the hold queue."""
    return STORE_FAILED.format(step=_STORE_STEPS.get(during or "", "recording the message"))


def downstream_refused(code: int, detail: str) -> str:
    enhanced = "5.0.0" if code >= 500 else "4.0.0"
    return f"{code} {enhanced} Downstream refused the message: {' '.join(detail.split())[:300]}"


def _named(addresses: Sequence[str], limit: int = 5, width: int = 240) -> str:
    """``<a>, <b> and 3 more``: at most ``limit`` addresses and about ``width`` characters,
    so that the reply line stays within SMTP's 512."""
    shown: list[str] = []
    for address in addresses[:limit]:
        if shown and sum(len(a) + 4 for a in shown) + len(address) > width:
            break
        shown.append(address)
    rest = len(addresses) - len(shown)
    return ", ".join(f"<{a}>" for a in shown) + (f" and {rest} more" if rest else "")


def downstream_temporary(detail: str, reached: Sequence[str]) -> str:
    """Not accepted, try again: and who got their copy already (a retry skips them)."""
    first = DOWNSTREAM_TEMPORARY.format(detail=" ".join(detail.split())[:200])
    if not reached:
        return first
    return multiline("451", "4.4.1", [
        first.removeprefix("451 4.4.1 "),
        f"Delivered already to {_named(reached)}: a retry goes only to the others"])


def refused_in_part(code: int, detail: str, refused: Sequence[str],
                    reached: Sequence[str]) -> str:
    """Some copies refused for good after others went: who got it, who did not."""
    why = f"Downstream refused the message for {_named(refused)}: {' '.join(detail.split())}"
    return multiline(str(code), "5.0.0", [
        why[:480],  # the downstream's words cut to fit the line
        f"It was delivered to {_named(reached)}; nobody else got it",
        "Sent again unchanged, it goes only to those it did not reach"])


def for_outcome(outcome: Outcome) -> str:
    """The reply to the end of DATA: what became of the message, in the client's terms."""
    match outcome.kind:
        case OutcomeKind.RELAYED | OutcomeKind.HELD | OutcomeKind.PARTLY_HELD:
            return accepted(outcome.queue_id, outcome.hold_id, outcome.held, outcome.delivered)
        case OutcomeKind.BOUNCED:
            assert outcome.decision is not None
            return bounce(outcome.decision)
        case OutcomeKind.DEFERRED:
            return downstream_temporary(outcome.detail, outcome.reached)
        case OutcomeKind.DOWNSTREAM_REFUSED if outcome.reached:
            code = outcome.code if outcome.code is not None and outcome.code >= 500 else 554
            return refused_in_part(code, outcome.detail, outcome.refused, outcome.reached)
        case OutcomeKind.DOWNSTREAM_REFUSED:
            return downstream_refused(outcome.code or 554, outcome.detail)
        case OutcomeKind.STORE_FAILED:
            return store_failed(outcome.during)
        case OutcomeKind.REFUSED_INPUT:
            return _refused_input(outcome.problem, outcome.detail)
        case OutcomeKind.INTERNAL_ERROR:
            return INTERNAL_ERROR
        case OutcomeKind.IN_PROGRESS:
            return IN_PROGRESS
        case _:
            assert_never(outcome.kind)


def _refused_input(problem: InputProblem | None, detail: str) -> str:
    match problem:
        case InputProblem.NUL:
            return NUL_IN_DATA
        case InputProblem.BARE_LINE_ENDING:
            return BARE_LINE_ENDING
        case InputProblem.AMBIGUOUS_HEADERS:
            return AMBIGUOUS_HEADERS.format(why=detail)
        case InputProblem.HEADER_TOO_BIG:
            return HEADER_TOO_BIG.format(limit=detail)
        case None:
            raise AssertionError("an input refusal always names its problem")
        case _:
            assert_never(problem)
