"""The acceptance key: a client's retry has the key of its first attempt; another message
has another."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.acceptance import acceptance_key
from gateway.core.headers import read_header_block

HEAD = (b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: Case\r\n"
        b"Message-ID: <m1@example.org>\r\n")
BODY = b"\r\nInternal\r\n\r\nA client's story.\r\n"
ENVELOPE = ("alice@example.org", ("bob@example.org", "carol@example.org"))


def key(data: bytes = HEAD + BODY, sender: str = ENVELOPE[0],
        recipients: tuple[str, ...] = ENVELOPE[1]) -> str:
    return acceptance_key(read_header_block(data), data, sender, recipients).digest


NO_ID = HEAD.replace(b"Message-ID: <m1@example.org>\r\n", b"")

SAME = [
    ("a relay added a trace field", {"data": b"Received: from relay.test\r\n" + HEAD + BODY}),
    ("recipients in another order", {"recipients": tuple(reversed(ENVELOPE[1]))}),
    ("addresses in another case", {"sender": "Alice@Example.ORG",
                                   "recipients": ("BOB@example.org", "carol@example.org")}),
    ("Message-ID folded", {"data": HEAD.replace(b"Message-ID: <m1",
                                                b"Message-ID:\r\n <m1") + BODY}),
]
OTHER = [
    ("another Message-ID", {"data": HEAD.replace(b"<m1@", b"<m2@") + BODY}),
    ("another body", {"data": HEAD + BODY.replace(b"story", b"tale")}),
    ("another sender", {"sender": "dan@example.org"}),
    ("a recipient less", {"recipients": ENVELOPE[1][:1]}),
    ("a recipient more", {"recipients": (*ENVELOPE[1], "press@example.org")}),
    ("no Message-ID", {"data": NO_ID + BODY}),
]


@pytest.mark.parametrize(("why", "change"), SAME, ids=[w for w, _ in SAME])
def test_a_retry_has_the_same_key(why: str, change: dict[str, object]) -> None:
    assert key(**change) == key()  # type: ignore[arg-type]


@pytest.mark.parametrize(("why", "change"), OTHER, ids=[w for w, _ in OTHER])
def test_another_message_has_another_key(why: str, change: dict[str, object]) -> None:
    assert key(**change) != key()  # type: ignore[arg-type]


def test_without_a_message_id_the_whole_message_counts() -> None:
    plain = NO_ID + BODY
    assert key(plain) == key(plain)
    assert key(b"Received: from relay.test\r\n" + plain) != key(plain)
    found = acceptance_key(read_header_block(plain), plain, *ENVELOPE)
    assert found.message_id is None
    assert found.generated_message_id_local == "sg." + found.digest[:32]


def test_the_key_is_a_digest_that_says_nothing_of_the_message() -> None:
    digest = key()
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert b"m1@example.org" not in digest.encode() and "alice" not in digest


_FIELD = st.sampled_from([b"From: alice@example.org", b"To: bob@example.org",
                          b"Subject: Case", b"Subject: Case ", b"X-A: 1", b" folded"])
_LINE = st.sampled_from([b"", b"Internal", b"A client's story.", b"X-A: 1", b"."])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.lists(_FIELD, max_size=4), st.lists(_LINE, max_size=4)),
                min_size=2, max_size=2))
def test_without_a_message_id_two_keys_match_only_for_the_same_bytes(
        messages: list[tuple[list[bytes], list[bytes]]]) -> None:
    """Header block and body are digested apart; a line that moves from one to the other
    (the blank line that ends the header block moves with it) is another message."""
    datas = [b"".join(f + b"\r\n" for f in fields) + b"\r\n" + b"".join(b + b"\r\n" for b in body)
             for fields, body in messages]
    first, second = (key(data) for data in datas)
    assert (first == second) == (datas[0] == datas[1])


def test_a_line_moved_across_the_blank_line_is_another_message() -> None:
    assert key(b"From: a@example.org\r\nX-A: 1\r\n\r\nbody\r\n") != key(
        b"From: a@example.org\r\n\r\nX-A: 1\r\nbody\r\n")
