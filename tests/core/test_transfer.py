"""Base64 undone as a mail client undoes it: up to the first byte that is not base64."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.transfer import Encoding, undo

ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
WHITESPACE = b" \t\r\n\f\v"


def client_reading(payload: bytes) -> tuple[bytes, bool]:
    """What a client shows: the alphabet's bytes up to the first other one (white space
    skipped, padding ends it), and whether anything but padding came after."""
    cleaned = bytes(b for b in payload if b not in WHITESPACE)
    end = next((i for i, b in enumerate(cleaned) if b not in ALPHABET), len(cleaned))
    valid = cleaned[:end]
    valid = valid[:len(valid) - len(valid) % 4 if len(valid) % 4 == 1 else len(valid)]
    data = base64.b64decode(valid + b"=" * (-len(valid) % 4))
    return data, bool(cleaned[end:].lstrip(b"="))


def wrapped(encoded: bytes, width: int, ending: bytes) -> bytes:
    return ending.join(encoded[i:i + width] for i in range(0, len(encoded), width)) + ending


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """Base64 as senders write it, wrapped, then perhaps cut, padded or spoiled."""
    encoded = base64.b64encode(draw(st.binary(max_size=300)))
    change = draw(st.sampled_from(["none", "cut", "pad", "inner pad", "garbage", "spaces"]))
    if change == "cut" and encoded:
        encoded = encoded[:draw(st.integers(0, len(encoded)))]
    elif change == "pad":
        encoded += b"=" * draw(st.integers(1, 3))
    elif change == "inner pad" and encoded:
        at = draw(st.integers(0, len(encoded)))
        encoded = encoded[:at] + b"=" + encoded[at:]
    elif change == "garbage":
        at = draw(st.integers(0, len(encoded)))
        junk = draw(st.binary(min_size=1, max_size=4).filter(
            lambda j: any(b not in ALPHABET + WHITESPACE + b"=" for b in j)))
        encoded = encoded[:at] + junk + encoded[at:]
    elif change == "spaces" and encoded:
        at = draw(st.integers(0, len(encoded)))
        encoded = encoded[:at] + draw(st.sampled_from([b" ", b"\t", b"\r\n "])) + encoded[at:]
    return wrapped(encoded, draw(st.sampled_from([76, 64, 4, 1000])),
                   draw(st.sampled_from([b"\r\n", b"\n"])))


@settings(max_examples=600, deadline=None)
@given(payloads())
def test_base64_reads_as_a_client_shows_it(payload: bytes) -> None:
    data, garbage = client_reading(payload)
    undone = undo(payload, Encoding.BASE64)
    if garbage and not data.strip():
        assert undone.unreadable is not None
        return
    assert undone.data == data
    assert bool(undone.defects) is garbage
    assert undone.unreadable is None


def test_a_well_formed_attachment_decodes_to_its_bytes() -> None:
    raw = bytes(range(256)) * 40
    undone = undo(wrapped(base64.b64encode(raw), 76, b"\r\n"), Encoding.BASE64)
    assert (undone.data, undone.defects, undone.unreadable) == (raw, (), None)


def test_text_after_the_padding_is_a_defect_and_not_read() -> None:
    payload = base64.b64encode(b"Internal") + b"\r\n" + base64.b64encode(b"Cleared") + b"\r\n"
    undone = undo(payload, Encoding.BASE64)
    assert undone.data == b"Internal"
    assert undone.defects == ("base64 with a garbage tail (read up to it)",)
