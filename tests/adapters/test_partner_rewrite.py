"""A partner's copy made from the raw message: the labels replace a client's fields of the
same names, the subject is tagged once, whatever its encoding or folding, and nothing else of
the message changes."""

from __future__ import annotations

import pytest

from gateway.adapters.rewrite import outgoing
from gateway.core.headers import read_header_block

TRACE = [("Received", "by gateway"), ("X-Stamp", "internal")]
LABELS = [("X-TLP", "TLP:RED")]
BODY = b"Confidential\r\nCase notes.\r\n"


def copy(header: bytes, tag: str | None = "[TLP:RED]") -> bytes:
    return outgoing(header + b"\r\n" + BODY, [*TRACE, *LABELS], tag)


def field_lines(data: bytes) -> list[bytes]:
    return [line.raw for line in read_header_block(data).fields]


@pytest.mark.parametrize(("subject", "expected"), [
    (b"Subject: budget\r\n", b"Subject: [TLP:RED] budget\r\n"),
    (b"Subject:budget\r\n", b"Subject: [TLP:RED] budget\r\n"),
    (b"subject: budget\r\n", b"subject: [TLP:RED] budget\r\n"),
    (b"Subject:\r\n", b"Subject: [TLP:RED]\r\n"),
    (b"Subject: a long\r\n subject\r\n", b"Subject: [TLP:RED] a long\r\n subject\r\n"),
    (b"Subject: =?utf-8?q?caf=C3=A9?=\r\n", b"Subject: [TLP:RED] =?utf-8?q?caf=C3=A9?=\r\n"),
    (b"Subject: Re: [TLP:RED] budget\r\n", b"Subject: Re: [TLP:RED] budget\r\n"),
    # Already tagged, but encoded by the client: read as a person sees it, left alone.
    (b"Subject: =?utf-8?q?Re=3A_=5BTLP=3ARED=5D_budget?=\r\n",
     b"Subject: =?utf-8?q?Re=3A_=5BTLP=3ARED=5D_budget?=\r\n"),
    (b"Subject: [TLP:AMBER] budget\r\n", b"Subject: [TLP:RED] [TLP:AMBER] budget\r\n"),
])
def test_the_subject_is_tagged_once(subject: bytes, expected: bytes) -> None:
    made = copy(b"From: a@example.org\r\n" + subject)
    assert [line for line in field_lines(made) if line.lower().startswith(b"subject")] == [
        expected]
    assert made.endswith(b"\r\n\r\n" + BODY)


def test_a_clients_label_fields_are_replaced_and_the_rest_kept_in_order() -> None:
    made = copy(b"From: a@example.org\r\nX-TLP: TLP:CLEAR\r\nTo: b@unhcr.test\r\n"
                b"x-tlp : TLP:GREEN\r\nSubject: budget\r\nX-Stamp: cleared\r\n")
    assert field_lines(made) == [
        b"Received: by gateway\r\n", b"X-Stamp: internal\r\n", b"X-TLP: TLP:RED\r\n",
        b"From: a@example.org\r\n", b"To: b@unhcr.test\r\n",
        b"Subject: [TLP:RED] budget\r\n"]


def test_every_subject_field_is_tagged_and_a_missing_one_added() -> None:
    made = copy(b"Subject: one\r\nSubject: two\r\n")
    assert [line for line in field_lines(made) if line.startswith(b"Subject")] == [
        b"Subject: [TLP:RED] one\r\n", b"Subject: [TLP:RED] two\r\n"]
    made = copy(b"From: a@example.org\r\n")
    assert b"Subject: [TLP:RED]\r\n" in field_lines(made)


def test_without_a_tag_only_the_fields_change() -> None:
    made = copy(b"From: a@example.org\r\nSubject: budget\r\n", tag=None)
    assert b"Subject: budget\r\n" in field_lines(made)
