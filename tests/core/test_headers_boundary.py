"""The reader, the rewriter and the signer agree on where the header block ends."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.adapters.rewrite import outgoing, split_header
from gateway.core.headers import read_header_block
from gateway.core.message import read_message

header_lines = st.one_of(
    st.sampled_from([b"Subject: Internal", b"From: alice@example.org", b"X-Stamp: Internal",
                     b"X-Stamp : cleared", b"Subject\t: x", b"Content-Type: text/plain",
                     b"Content-Type: multipart/mixed", b"Content-Type: message/rfc822",
                     b" folded continuation", b"\tfolded", b"From nobody", b"no colon here",
                     b"Caf\xc3\xa9: 8-bit name", b"", b" ", b":", b"a:", b"Subject: \xff\xfe"]),
    st.binary(max_size=30).filter(lambda b: b"\r" not in b and b"\n" not in b))
bodies = st.sampled_from([b"", b"Confidential\r\n", b"Internal\r\nX-Stamp: cleared\r\n",
                          b"\r\n\r\nbody"])


def _message(lines: list[bytes], body: bytes, crlf: bool) -> bytes:
    newline = b"\r\n" if crlf else b"\n"
    return newline.join(lines) + newline + newline + body


@settings(max_examples=400, deadline=None, database=None)
@given(lines=st.lists(header_lines, max_size=10), body=bodies, crlf=st.booleans())
def test_reader_and_rewriter_find_the_same_boundary(lines: list[bytes], body: bytes,
                                                    crlf: bool) -> None:
    data = _message(lines, body, crlf)
    facts = read_message(data)
    header, rest = split_header(data)
    assert facts.header_end == len(header)
    assert header + rest == data
    block = read_header_block(data)
    assert (facts.ambiguous_headers is None) == (block.ambiguous is None)
    if block.ambiguous is not None:
        # Fails closed even where the SMTP edge is not in front (policy tests, re-reads).
        assert any("ambiguous" in reason for reason in facts.unreadable)
    # What the gateway relays has its own X-Stamp first and no other, read either way.
    relayed = outgoing(data, [("X-Stamp", "none")])
    again = read_message(relayed)
    assert again.x_stamps == ("none",)
    # ... and the body downstream reads is the body the gateway read.
    assert relayed[read_header_block(relayed).body_start:] == data[block.body_start:]
