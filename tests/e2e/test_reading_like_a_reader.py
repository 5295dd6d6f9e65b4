"""The stamp a person sees is the stamp the gateway enforces, over real SMTP.

One case per way a message can show a reader something other than what a naive parser
reads: HTML visibility, MIME display rules, charsets and transfer encodings, text that
renders differently from its code points, format=flowed, the header block's end, threads,
and the gateway's own header read back. Restricted mail must not reach the press or an
outside address; routine cleared mail must.
"""

from __future__ import annotations

import base64

import pytest

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess

ALICE = "alice@example.org"
BOB = "bob@example.org"
PRESS = "press@example.org"
PARTNER = "partner@outside.test"
# The Subject says Cleared: a reader that misses the body's stamp lets the mail out.
HEAD = (b"From: alice@example.org\r\nTo: press@example.org\r\n"
        b"Subject: [Cleared for publication] Case update\r\n"
        b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n")


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def plain(body: str, extra: str = "", charset: str = "utf-8") -> bytes:
    return (HEAD + crlf(f"Content-Type: text/plain; charset={charset}\n{extra}\n")
            + crlf(body))


def html(markup: str) -> bytes:
    return HEAD + crlf("Content-Type: text/html; charset=utf-8\n\n" + markup + "\n")


def multipart(subtype: str, parts: list[str], params: str = "") -> bytes:
    body = "".join(f"--b1\n{part}\n" for part in parts) + "--b1--\n"
    return HEAD + crlf(f'Content-Type: multipart/{subtype}; boundary="b1"{params}\n\n{body}')


def encoded(body: bytes, charset: str, cte: str = "base64") -> bytes:
    payload = base64.encodebytes(body).decode() if cte.startswith("base64") else body.decode()
    return HEAD + crlf(f"Content-Type: text/plain; charset={charset}\n"
                       f"Content-Transfer-Encoding: {cte}\n\n{payload}")


STORY = "<p>The client's story, with every detail.</p>"

# Each of these shows a reader an Internal or Confidential stamp at the top.
RESTRICTED: dict[str, bytes] = {
    # HTML visibility is what a browser shows
    "unclosed head": html("<html><head><title>News</title><style>p{margin:0}</style>"
                          "<p>Confidential</p>" + STORY),
    "later display wins": html('<div style="display:none;display:block">Internal</div>'
                               "<div>Cleared for publication</div>" + STORY),
    "hidden pre-header": html('<div style="max-height:0;overflow:hidden">Our monthly '
                              "news, read on</div><p>Internal</p>" + STORY),
    "one-pixel white line": html('<div style="font-size:1px;color:#ffffff">.</div>'
                                 "<p>Confidential</p>" + STORY),
    "white on white first": html('<div style="color:#fff;background:#fff">Hello</div>'
                                 "<div>Internal</div>" + STORY),
    "zero-opacity first": html('<p style="opacity:0">Welcome</p><p>Internal</p>' + STORY),
    "stamp in a table cell": html("<table><tr><td><b>CONFIDENTIAL</b></td></tr></table>"
                                  + STORY),
    "noscript shows": html("<noscript>Internal</noscript>" + STORY),
    # MIME display rules
    "mixed: empty first part": multipart("mixed", [
        "Content-Type: text/plain\n\n",
        "Content-Type: text/plain\n\nInternal\n\nThe story."]),
    "mixed: inline image first": multipart("mixed", [
        "Content-Type: image/png\nContent-Disposition: inline\n"
        "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=",
        "Content-Type: text/plain\n\nConfidential\n\nThe story."]),
    "related: start root": multipart("related", [
        "Content-Type: text/plain\nContent-ID: <a@x>\n\nSee the page.",
        "Content-Type: text/html\nContent-ID: <root@x>\n\n<p>Internal</p>" + STORY],
        params='; type="text/html"; start="<root@x>"'),
    "message/rfc822 at the top": HEAD + crlf(
        "Content-Type: message/rfc822\n\nFrom: bob@example.org\nSubject: fwd\n\n"
        "Internal\n\nThe story.\n"),
    "message/global attached": multipart("mixed", [
        "Content-Type: message/global\n\nFrom: bob@example.org\nSubject: fwd\n\n"
        "Confidential\n\nThe story.",
        "Content-Type: text/plain\n\nFor your information."]),
    "eml as octet-stream": multipart("mixed", [
        "Content-Type: text/plain\n\nSee attached.",
        'Content-Type: application/octet-stream; name="story.eml"\n'
        'Content-Disposition: attachment; filename="story.eml"\n\n'
        "From: bob@example.org\nSubject: story\n\nConfidential\n\nThe story."]),
    # charsets and transfer encodings as clients resolve them
    "charset unicode is UTF-16LE": encoded("Internal\r\nThe story.\r\n".encode("utf-16-le"),
                                           "unicode"),
    "transfer encoding with a comment": encoded(b"Confidential\r\nThe story.\r\n", "utf-8",
                                                "base64 (from the client)"),
    "base64 with a garbage tail": HEAD + crlf(
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        + base64.b64encode(b"Internal\r\nThe story.\r\n").decode() + "\n!!garbage%%\n"),
    # text that renders differently from its code points
    "small capitals": plain("ɪɴᴛᴇʀɴᴀʟ\n\nThe story."),
    "variation selectors inside": plain("Confid\ufe0fent\ufe0fial\n\nThe story."),
    "tag characters inside": plain("Inter\U000e0041nal\n\nThe story."),
    "braille blank line first": plain("\u2800\u2800\u2800\nInternal\n\nThe story."),
    "hangul filler line first": plain("\u3164\nConfidential\n\nThe story."),
    "bidi override": plain("\u202dInternal\u202c\n\nThe story."),
    "combining marks": plain("".join(c + "\u0301" for c in "Internal") + "\n\nThe story."),
    "greek lunate sigma and alpha": plain("Ϲonfidentiɑl\n\nThe story."),
    # format=flowed is one word on screen
    "format=flowed DelSp": plain("Confi \ndential\n\nThe story.",
                                 extra="", charset='utf-8; format=flowed; delsp=yes'),
    # how people write labels
    "letter-spaced": plain("C O N F I D E N T I A L\n\nThe story."),
    "private and confidential": plain("Private & Confidential\n\nThe story."),
    "one edit away": plain("Confidentail\n\nThe story."),
    "internal use only": plain("Internal use only\n\nThe story."),
    # where the headers end
    "space before the colon": HEAD + crlf("X-Stamp : cleared\nContent-Type: text/plain\n\n"
                                          "Internal\n\nThe story."),
    "header line without a colon": HEAD + crlf("Content-Type: text/plain\nX-Note\n\n"
                                               "Confidential\n\nThe story."),
    "8-bit header name": HEAD + "X-Ñote: x\r\n\r\nConfidential\r\n\r\nThe story.\r\n".encode(),
    # text the page draws, in the order it draws it
    "css generated content": html('<style>p.s::before{content:"Confidential"}</style>'
                                  '<p class="s"></p>' + STORY),
    "an input's value": html('<input value="Internal" readonly>' + STORY),
    "flex column-reverse": html('<div style="display:flex;flex-direction:column-reverse">'
                                f"<div>{STORY}</div><div>Confidential</div></div>"),
    "thead after tbody": html(f"<table><tbody><tr><td>{STORY}</td></tr></tbody>"
                              "<thead><tr><td>Internal</td></tr></thead></table>"),
    "bdo rtl": html('<p><bdo dir="rtl">laitnedifnoC</bdo></p>' + STORY),
    "cells that draw one word": html("<table cellspacing=0 cellpadding=0><tr><td>Confi</td>"
                                     "<td>dential</td></tr></table>" + STORY),
    "a rule between stamp lines": plain("Cleared for publication\n-----\nConfidential\n\n"
                                        "The story."),
    # the type and the fields as a client reads them
    "comment in the content type": HEAD + crlf("Content-Type: text/html (plain); charset=utf-8"
                                               "\n\n<!--Cleared for publication-->"
                                               "<p>Confidential</p>" + STORY + "\n"),
    "a second subject": HEAD + crlf("Subject: Confidential\nContent-Type: text/plain\n\n"
                                    "The story."),
    # lines a reader sees a stamp in that are not one as written
    "a trademark sign": plain("CONFIDENTIAL\u2122\n\nThe story."),
    "words joined by a dot": plain("Strictly.Confidential\n\nThe story."),
    "a list number": plain("1. Internal\n\nThe story."),
    "struck-through cleared over internal": plain(
        "".join(c + "\u0336" for c in "Cleared for publication") + "\nInternal\n\nThe story."),
}

# Routine mail that must go through.
CLEARED: dict[str, bytes] = {
    "plain cleared": plain("Cleared for publication\n\nThe story."),
    "cleared after a hidden pre-header": html(
        '<div style="display:none">Read the news</div><p>Cleared for publication</p>' + STORY),
    "forwarded relayed mail keeps X-Stamp none": HEAD + crlf(
        "X-Stamp: none\nContent-Type: text/plain\n\nCleared for publication\n\nThe story."),
    "cleared in format=flowed": plain("Cleared for \npublication\n\nThe story.",
                                      charset="utf-8; format=flowed"),
    "a sentence is not a stamp": plain("Cleared for publication\n\n"
                                       "Internal audit starts Monday, confidential notes."),
    "a note that starts with no": plain("Cleared for publication - no faces, pseudonym used"
                                        "\n\nThe story."),
}


# Stamps of attached messages are embedded content: stricter than the Subject's Cleared, a
# downgrade that holds the message for review.
EMBEDDED = {"message/global attached", "eml as octet-stream", "message/rfc822 at the top"}
REFUSED = {"header line without a colon", "8-bit header name"}


def last_decision(gateway: GatewayProcess) -> dict[str, object]:
    return gateway.log_events("message")[-1]


@pytest.mark.parametrize("name", sorted(RESTRICTED))
def test_restricted_mail_never_reaches_the_press(gateway: GatewayProcess,
                                                 downstream: Downstream, name: str) -> None:
    before = len(gateway.log_events("message"))
    code, reply = gateway.send(ALICE, [PRESS, PARTNER], RESTRICTED[name])
    if name in EMBEDDED:
        assert code == 250 and "held for review" in reply and "2 recipient" in reply, reply
    else:
        assert code == 550, (name, code, reply)
    assert downstream.messages == [], name
    if name in REFUSED:  # the header block's end is ambiguous: refused as it stands
        assert reply.startswith("5.6.0"), reply
        return
    assert len(gateway.log_events("message")) == before + 1
    decision = last_decision(gateway)
    # The stamp was read, not guessed: the refusal is not "unreadable content".
    assert not decision["unreadable"], (name, decision)
    if name in EMBEDDED:
        assert str(decision["downgrade"]).startswith("downgrade from"), (name, decision)
    else:
        assert decision["stamp"] in ("internal", "confidential"), (name, decision)


@pytest.mark.parametrize("name", sorted(CLEARED))
def test_cleared_mail_reaches_the_press(gateway: GatewayProcess, downstream: Downstream,
                                        name: str) -> None:
    code, reply = gateway.send(ALICE, [PRESS], CLEARED[name])
    assert code == 250 and "held" not in reply, (name, reply)
    assert downstream.wait_for(1)[0].recipients == [PRESS]


def test_a_confidential_parent_behind_many_unknown_ids_still_rules_the_reply(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    parent = "<parent-deep@example.org>"
    code, _ = gateway.send(ALICE, [BOB], HEAD + crlf(
        f"Message-ID: {parent}\nContent-Type: text/plain\n\nConfidential\n\nThe story."))
    assert code == 250
    downstream.wait_for(1)
    downstream.clear()
    unknown = " ".join(f"<unknown-{i}@example.org>" for i in range(150))
    reply = HEAD + crlf("Message-ID: <reply-deep@example.org>\n"
                        "In-Reply-To: <unknown-0@example.org>\n"
                        f"References: {unknown}\n {parent}\nContent-Type: text/plain\n\n"
                        "Thanks, see below.\n")
    code, text = gateway.send(ALICE, [PARTNER], reply)
    assert code == 550 or (code == 250 and "held" in text), text
    assert downstream.messages == []


# No stamp in the Subject: the body's stamp decides.
BARE = (b"From: alice@example.org\r\nTo: press@example.org\r\nSubject: Case update\r\n"
        b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n")


@pytest.mark.parametrize("body", [
    "Content-Type: text/html; charset=utf-8\n\n"
    '<div style="display:none">Cleared for publication</div>' + STORY,
    'Content-Type: multipart/alternative; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\n'
    "Cleared for publication\n\nThe story.\n--b1\nContent-Type: text/html\n\n" + STORY +
    "\n--b1--\n",
], ids=["hidden", "plain alternative only"])
def test_a_cleared_no_reader_sees_is_refused_and_the_reply_says_why(
        gateway: GatewayProcess, downstream: Downstream, body: str) -> None:
    code, reply = gateway.send(ALICE, [PRESS], BARE + crlf(body))
    assert code == 550, reply
    assert "a Cleared stamp was found, but not on the first line" in reply, reply
    assert downstream.messages == []
    assert last_decision(gateway)["stamp"] is None
