"""What every fuzzer checks: no raise, no doubt let through, one end of the header block.

Reading any bytes never raises and never lets doubt through, and the reader and the
rewriter agree on where the header block ends.

Importable without atheris, so tests/security/test_fuzz_corpus.py replays the corpus with it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from gateway.adapters.accounts import Account
from gateway.adapters.rewrite import outgoing, split_header
from gateway.core.decision import decide
from gateway.core.message import read_message
from gateway.core.model import Stamp, Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.core.stamps import read_stamps
from gateway.policyfiles.load import load_policy
from gateway.service.outcome import has_bare_line_ending
from gateway.smtp.access import header_refusal

POLICIES = Path(__file__).resolve().parents[1] / "policies"
PRESS = "press@example.org"
PARTNER = "partner@outside.test"
ACCOUNT = Account(login="alice", password_hash="-", addresses=("alice@example.org",))


@lru_cache(maxsize=1)
def policy() -> Policy:
    return load_policy(POLICIES)


def check(data: bytes) -> None:
    """Raise AssertionError (or whatever the reader raises) on a property violation."""
    current = policy()
    facts = read_message(data)
    reading = read_stamps(facts, current.vocabulary)
    separator = current.organisation.plus_separator
    recipients = [parse_recipient(a, separator) for a in ("bob@example.org", PRESS, PARTNER)]
    decision = decide(current, reading, "alice@example.org", recipients)
    verdicts = {r.address: r.verdict for r in decision.recipients}
    if verdicts[PRESS] is Verdict.ALLOW:
        assert reading.stamp is Stamp.CLEARED, "communications got uncleared material"
    if verdicts[PARTNER] is Verdict.ALLOW:
        assert reading.stamp is Stamp.CLEARED or (
            reading.stamp is None and not reading.unreadable), "external got doubtful material"
    header, _ = split_header(data)
    assert facts.header_end == len(header), "the reader and the rewriter end the headers apart"
    if facts.ambiguous_headers is not None:
        assert reading.unreadable, "an ambiguous header block was read as certain"
    if b"\0" in data or has_bare_line_ending(data):
        # The SMTP edge refuses these before anything is rewritten: with a bare CR the
        # header/body boundary is ambiguous (see fuzz/corpus/crash-bare-cr-*.eml).
        return
    relayed = outgoing(data, [("X-Stamp", "none")])
    header, _ = split_header(relayed)
    names = [line.split(b":", 1)[0].strip().lower() for line in header.splitlines()
             if line[:1] not in (b" ", b"\t") and b":" in line]
    assert names.count(b"x-stamp") == 1, "an incoming X-Stamp survived"
    header_refusal(ACCOUNT, split_header(data)[0])
