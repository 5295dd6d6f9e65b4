"""A *Cleared* stamp read in the body counts only where a reader sees it at the top.

Hidden text, an alternative a client does not show first and one part of several alone are
read for stricter stamps; none of them clears a message whose shown renderings have no stamp.
"""

from __future__ import annotations

import pytest

from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary
from gateway.service.reading import read_now
from tests.core.mail import alternative, html, plain, raw

CLEARED = "Cleared for publication"


def mixed(*parts: str) -> bytes:
    body = "".join(f"--M\n{part}\n" for part in parts) + "--M--\n"
    return raw('Subject: x\nContent-Type: multipart/mixed; boundary="M"', body)


TEXT = "Content-Type: text/plain; charset=utf-8\n\n"
HTML = "Content-Type: text/html; charset=utf-8\n\n"


@pytest.mark.parametrize("data", [
    # Hidden above unstamped text: the reader sees a message without a stamp.
    html(f'<div style="display:none">{CLEARED}</div><p>Hello team</p>'),
    html(f'<span style="font-size:0">{CLEARED}</span><p>Hello team</p>'),
    html(f'<p style="color:#fff;background:#fff">{CLEARED}</p><p>Hello team</p>'),
    # Clients show the HTML alternative; only the plain one is stamped.
    alternative(f"{CLEARED}\n\nHello team", "<p>Hello team</p>"),
    # An image shown from the message (cid:) hides its alt text.
    raw('Subject: x\nContent-Type: multipart/related; boundary="R"',
        f'--R\n{HTML}<img src="cid:logo" alt="{CLEARED}"><p>Hello team</p>\n'
        '--R\nContent-Type: image/png\nContent-ID: <logo>\nContent-Transfer-Encoding: base64\n\n'
        'iVBORw0KGgo=\n--R--\n'),
    # Nothing visible at all: an empty document with the stamp hidden in it.
    html(f'<div hidden>{CLEARED}</div>'),
    # The second of two parts is stamped: the first line of the message is not.
    mixed(TEXT + "Hello team", TEXT + CLEARED),
], ids=["display-none", "font-size-0", "white-on-white", "plain-alternative-only",
        "related-image-alt", "nothing-visible", "second-part"])
def test_a_cleared_stamp_no_reader_sees_at_the_top_does_not_clear(
        vocabulary: Vocabulary, data: bytes) -> None:
    assert read_now(data, vocabulary).reading.stamp is None


@pytest.mark.parametrize(("data", "stamp"), [
    (html(f"<p>{CLEARED}</p><p>Hello team</p>"), Stamp.CLEARED),
    (alternative(f"{CLEARED}\n\nHello", f"<p>{CLEARED}</p><p>Hello</p>"), Stamp.CLEARED),
    # A logo's alt text above the stamp: with images blocked it is a line of its own.
    (html(f'<img src="https://example.org/logo.png" alt="Example logo"><p>{CLEARED}</p>'),
     Stamp.CLEARED),
    # A layout table: the stamp alone in its cell, a reference beside it.
    (html(f"<table><tr><td>{CLEARED}</td><td>Case 12</td></tr></table><p>Hello</p>"),
     Stamp.CLEARED),
    # A footer part a list server added: the message's top is the first part's.
    (mixed(TEXT + f"{CLEARED}\n\nHello", TEXT + "-- \nExample list footer"), Stamp.CLEARED),
    # The Subject is above every rendering.
    (html('<div style="display:none">x</div><p>Hello team</p>', subject=CLEARED),
     Stamp.CLEARED),
    # A stamp the sender's client wrapped over two flowed lines.
    (raw('Subject: x\nContent-Type: text/plain; charset=utf-8; format=flowed',
         "Cleared for \npublication\n\nHello\n"), Stamp.CLEARED),
    # A stricter stamp anywhere still wins; a hidden one too.
    (html(f'<div style="display:none">Internal</div><p>{CLEARED}</p>'), Stamp.INTERNAL),
    (html(f'<div style="display:none">{CLEARED}</div><p>Confidential</p>'),
     Stamp.CONFIDENTIAL),
    (alternative(f"{CLEARED}\n\nHello", "<p>Internal</p><p>Hello</p>"), Stamp.INTERNAL),
    (plain(f"{CLEARED}\n\nHello team"), Stamp.CLEARED),
], ids=["visible", "both-alternatives", "logo-alt-above", "layout-table", "list-footer", "subject",
        "flowed-wrapped", "hidden-internal", "visible-confidential", "html-internal", "plain"])
def test_a_cleared_stamp_readers_see_still_clears(
        vocabulary: Vocabulary, data: bytes, stamp: Stamp) -> None:
    assert read_now(data, vocabulary).reading.stamp is stamp
