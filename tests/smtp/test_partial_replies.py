"""The replies to a message some of whose copies went: every line fits SMTP's 512 octets
(RFC 5321 4.5.3.1.5) and names as many recipients as fit, counting the rest."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from gateway.core.decision import Decision
from gateway.service.outcome import Outcome, OutcomeKind
from gateway.smtp import replies

# Addresses as the gateway accepts them: up to 64 octets before the @, 254 in all.
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}.test",
                    st.text("abcdefghij.-+_", min_size=1, max_size=64),
                    st.text("abcdefghij", min_size=1, max_size=180))
# The downstream's reply, as the gateway reports it (SMTP replies are ASCII).
DETAIL = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=1000)


LONG = ["a" * 64 + "@" + "b" * 180 + f"{n}.test" for n in range(6)]


@example(kind=OutcomeKind.DOWNSTREAM_REFUSED, reached=LONG, refused=LONG, detail="d" * 1000,
         code=554)
@example(kind=OutcomeKind.DEFERRED, reached=LONG, refused=LONG, detail="d" * 1000, code=451)
@given(kind=st.sampled_from([OutcomeKind.DEFERRED, OutcomeKind.DOWNSTREAM_REFUSED]),
       reached=st.lists(ADDRESS, min_size=1, max_size=30),
       refused=st.lists(ADDRESS, min_size=1, max_size=30),
       detail=DETAIL, code=st.sampled_from([421, 451, 550, 554]))
def test_every_line_fits_and_every_recipient_is_named_or_counted(
        kind: OutcomeKind, reached: list[str], refused: list[str], detail: str,
        code: int) -> None:
    outcome = Outcome(kind, "Q1", Decision.from_dict({"recipients": []}), detail=detail,
                      code=code, reached=tuple(reached), refused=tuple(refused))
    reply = replies.for_outcome(outcome)
    lines = reply.split("\r\n")
    assert all(len(line.encode()) + 2 <= 512 for line in lines), reply
    assert lines[-1][:4] in ("451 ", "550 ", "554 ")
    named = reply.split("Delivered already to " if kind is OutcomeKind.DEFERRED
                        else "It was delivered to ")[1].splitlines()[0]
    shown = named.count("<")
    more = int(named.split(" and ")[-1].split()[0]) if " more" in named else 0
    assert shown >= 1 and shown + more == len(reached)
