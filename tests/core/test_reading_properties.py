"""Properties of the whole reading pipeline: display-preserving noise never changes the stamp.

Each case is a real message (bytes) whose first visible line is a stamp phrase of the example
vocabulary, disguised the way mail really arrives: invisible characters and look-alike letters
inside the words, case, blank-looking lines above it, a transfer encoding and a charset, a
format=flowed soft break, MIME nesting and HTML noise. A person opening any such message sees
the stamp at the top, so ``read_now`` must read exactly that stamp; the same noise around a
plain sentence must read no stamp at all.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary
from gateway.service.reading import read_now

# Phrases as the example policy lists them, in several of its languages.
PHRASES: dict[Stamp, tuple[str, ...]] = {
    Stamp.CLEARED: ("Cleared for publication", "Approved for publication",
                    "Autorisé pour publication", "Publicación autorizada",
                    "Zur Veröffentlichung freigegeben", "Разрешено к публикации",
                    "Pubblicazione autorizzata"),
    Stamp.NEEDS_ADJUSTMENT: ("Needs adjustment", "Nécessite des ajustements",
                             "Necesita ajustes", "Anpassung erforderlich",
                             "Требует доработки", "Precisa de ajustes"),
    Stamp.INTERNAL: ("Internal", "Internal use only", "For internal use", "Usage interne",
                     "Nur für den internen Gebrauch", "Для внутреннего использования",
                     "داخلي", "Uso interno"),
    Stamp.CONFIDENTIAL: ("Confidential", "Strictly confidential", "Private & Confidential",
                         "Confidentiel", "Streng vertraulich", "Конфиденциально",
                         "Strettamente riservato", "محرمانه"),
}
BENIGN = ("Dear all, the notes from today's meeting are attached.",
          "Internal audit starts Monday.",
          "Confidential matters will be discussed on Friday.",
          "Cleared the backlog of case files this week, thanks to everyone.",
          "Please find the minutes of the board meeting below.",
          "Hallo zusammen, anbei das Protokoll.")
REST = "Kind regards,\nAlice\n"

# Code points that display nothing: joiners, variation selectors, soft hyphen, tag characters.
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufe0f", "\ufe0e", "\u00ad",
             "\U000e0041", "\U000e007f", "\U000e0101")
# Look-alikes per Latin letter: Cyrillic, Greek and small capitals.
LOOK_ALIKES: dict[str, str] = {
    "a": "\u0430\u03b1\u1d00", "c": "\u0441\u03f2\u1d04", "e": "\u0435\u1d07",
    "i": "\u0456\u026a\u03b9", "o": "\u043e\u03bf\u1d0f", "p": "\u0440\u03c1\u1d18",
    "n": "\u0274", "l": "\u029f", "d": "\u1d05", "t": "\u1d1b\u03c4", "r": "\u0280",
    "s": "\u0455\ua731", "f": "\ua730", "u": "\u1d1c", "y": "\u0443", "x": "\u0445",
}
BLANK_LINES = ("", "", " ", "\t", "\u00a0", "\u2800", "\u3164", "\u200b", "\u3000")
CHARSETS = ("utf-8", "utf-16", "windows-1252", "latin1")
ENCODINGS = ("7bit", "8bit", "base64", "quoted-printable")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@dataclass(frozen=True)
class Leaf:
    """How one text part is dressed: its charset, transfer encoding, flowed break, HTML."""

    charset: str
    encoding: str
    qp_breaks: tuple[int, ...]
    flowed_at: int | None
    delsp: bool
    html_wrap: str
    pre_header: bool
    comment: bool
    style: bool
    unclosed_head: bool
    # A client that ignores format=flowed (Outlook) shows the soft-broken line as it is, so a
    # sentence broken after its first word would show that word alone on the top line: a
    # sentence is broken after its second word at the earliest, as long lines are.
    sentence: bool = False

    def flowed_from(self, line: str) -> int:
        if not self.sentence:
            return 1
        spaces = [i for i, char in enumerate(line) if char == " "]
        return spaces[1] + 1 if len(spaces) > 1 else len(line)


@st.composite
def disguised(draw: st.DrawFn, phrase: str) -> str:
    """``phrase`` with invisible characters inside its words, look-alikes and random case."""
    # Light noise too, so that single-byte charsets and 7bit can carry the line.
    look_alikes = draw(st.sampled_from([0, 0, 4]))
    invisibles = draw(st.sampled_from([0, 0, 3]))
    out: list[str] = []
    for index, char in enumerate(phrase):
        if char.isascii() and char.isalpha():
            if draw(st.booleans()):
                char = char.swapcase()
            options = LOOK_ALIKES.get(char.lower(), "")
            if options and look_alikes and draw(st.integers(0, look_alikes)) == 0:
                char = draw(st.sampled_from(options))
        out.append(char)
        inside_word = 0 < index < len(phrase) - 1 and phrase[index + 1].isalpha()
        if char.isalpha() and inside_word and invisibles and draw(st.integers(0, invisibles)) == 0:
            out.append(draw(st.sampled_from(INVISIBLE)))
    return "".join(out)


@st.composite
def leaves(draw: st.DrawFn, sentence: bool = False) -> Leaf:
    return Leaf(
        sentence=sentence,
        charset=draw(st.sampled_from(CHARSETS)),
        encoding=draw(st.sampled_from(ENCODINGS)),
        qp_breaks=tuple(sorted(draw(st.sets(st.integers(1, 80), max_size=4)))),
        flowed_at=draw(st.none() | st.integers(1, 40)),
        delsp=draw(st.booleans()),
        html_wrap=draw(st.sampled_from(["p", "div", "td", "b", "span-br"])),
        pre_header=draw(st.booleans()),
        comment=draw(st.booleans()),
        style=draw(st.booleans()),
        unclosed_head=draw(st.booleans()),
    )


# A MIME shape: ("leaf", plain?) or (kind, children...) for mixed, alternative, related.
Shape = tuple[object, ...]
LEAF_SHAPES = st.sampled_from([("plain",), ("html",)])
SHAPES: st.SearchStrategy[Shape] = st.recursive(
    LEAF_SHAPES,
    lambda inner: st.one_of(
        st.tuples(st.just("mixed-empty"), inner),
        st.tuples(st.just("mixed-image"), inner),
        st.tuples(st.just("alternative")),
        st.tuples(st.just("related"), inner),
    ),
    max_leaves=3,
)


def flowed_line(line: str, at: int | None, delsp: bool, start: int = 1) -> tuple[str, bool]:
    """The line with one soft break at or after ``start``; DelSp=yes may break inside a word,
    DelSp=no at a space."""
    if at is None or len(line) < start + 1:
        return line, False
    at = min(max(at, start), len(line) - 1)
    if delsp:
        rest = line[at:]
        # RFC 3676 space-stuffing: a line that starts with a space gets one more.
        return line[:at] + " \n" + (" " + rest if rest.startswith(" ") else rest), True
    spaces = [i for i, char in enumerate(line) if char == " " and start <= i < len(line) - 1]
    if not spaces:
        return line, False
    cut = min(spaces, key=lambda i: abs(i - at)) + 1
    return line[:cut] + "\n" + line[cut:], True


def qp_encode(data: bytes, breaks: tuple[int, ...]) -> bytes:
    """Quoted-printable with soft breaks at ``breaks`` (byte offsets) and at 70 columns."""
    out = bytearray()
    column = 0
    lines = data.split(b"\r\n")
    offset = 0
    for number, line in enumerate(lines):
        for index, byte in enumerate(line):
            token = (bytes([byte]) if (33 <= byte <= 126 and byte != 61)
                     or (byte == 32 and index < len(line) - 1) else b"=%02X" % byte)
            if offset in breaks or column + len(token) > 70:
                out += b"=\r\n"
                column = 0
            out += token
            column += len(token)
            offset += 1
        if number < len(lines) - 1:
            out += b"\r\n"
            column = 0
            offset += 2
    return out


def encode_body(text: str, leaf: Leaf) -> tuple[str, str, bytes]:
    """The charset label, transfer encoding and body bytes of ``text`` dressed as ``leaf``."""
    charset = leaf.charset
    try:
        raw = text.replace("\n", "\r\n").encode(charset)
    except UnicodeEncodeError:
        charset = "utf-8"
        raw = text.replace("\n", "\r\n").encode(charset)
    encoding = leaf.encoding
    if charset == "utf-16" and encoding in ("7bit", "8bit"):
        encoding = "base64"  # UTF-16 has NUL bytes: no client sends it unencoded
    if encoding == "7bit" and not raw.isascii():
        encoding = "8bit"
    if encoding == "base64":
        body = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    elif encoding == "quoted-printable":
        body = qp_encode(raw, leaf.qp_breaks)
    else:
        body = raw
    return charset, encoding, body


def html_document(lines: list[str], first: str, leaf: Leaf) -> str:
    """``first`` as the first visible line of an HTML document, with invisible noise around."""
    head = "<html><head><meta charset='utf-8'><title>Case update</title>"
    if leaf.style:
        head += "<style>.pre{display:none} p{margin:0}</style>"
    if not leaf.unclosed_head:
        head += "</head><body>"
    blanks = "".join(f"<p>{html.escape(line) or '&nbsp;'}</p>" for line in lines)
    if leaf.comment:
        blanks = "<!-- [if mso]>Sent from the web<![endif] -->" + blanks
    if leaf.pre_header:
        blanks = ("<div class='pre' style='display:none;max-height:0;overflow:hidden'>"
                  "Weekly notes and updates from the team</div>"
                  "<div style='font-size:1px;color:#ffffff;line-height:1px'>&nbsp;</div>") + blanks
    stamp = html.escape(first)
    match leaf.html_wrap:
        case "td":
            shown = f"<table><tr><td>{stamp}</td></tr></table>"
        case "span-br":
            shown = f"<span>{stamp}</span><br>"
        case tag:
            shown = f"<{tag}>{stamp}</{tag}>"
    rest = "".join(f"<p>{html.escape(line)}</p>" for line in REST.splitlines())
    return head + blanks + shown + rest + ("" if leaf.unclosed_head else "</body></html>")


def text_part(kind: str, blanks: list[str], first: str, leaf: Leaf) -> bytes:
    """One text/plain or text/html part (headers and body) dressed as ``leaf``."""
    params = ""
    if kind == "html":
        subtype = "html"
        text = html_document(blanks, first, leaf)
    else:
        subtype = "plain"
        line, flowed = flowed_line(first, leaf.flowed_at, leaf.delsp, leaf.flowed_from(first))
        text = "\n".join([*blanks, line, "", REST])
        if flowed:
            params = "; format=flowed" + ("; delsp=yes" if leaf.delsp else "")
    charset, encoding, body = encode_body(text, leaf)
    head = (f"Content-Type: text/{subtype}; charset=\"{charset}\"{params}\r\n"
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n")
    return head.encode("ascii") + body


def multipart(subtype: str, parts: list[bytes], number: int, params: str = "") -> bytes:
    boundary = f"=_part_{number}_{subtype}"
    head = f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"{params}\r\n\r\n"
    body = b"This is a multi-part message in MIME format.\r\n"
    for part in parts:
        body += f"--{boundary}\r\n".encode() + part + b"\r\n"
    return head.encode() + body + f"--{boundary}--\r\n".encode()


def build(shape: Shape, blanks: list[str], first: str, leaf: Leaf, number: int = 0) -> bytes:
    """The MIME entity of ``shape`` whose first displayed text line is ``first``."""
    kind = shape[0]
    if kind in ("plain", "html"):
        return text_part(str(kind), blanks, first, leaf)
    if kind == "alternative":
        return multipart("alternative", [text_part("plain", blanks, first, leaf),
                                         text_part("html", blanks, first, leaf)], number)
    inner = shape[1]
    assert isinstance(inner, tuple)
    shown = build(inner, blanks, first, leaf, number + 1)
    if kind == "mixed-empty":
        empty = b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        return multipart("mixed", [empty, shown], number)
    image = (b"Content-Type: image/png\r\nContent-Disposition: inline; filename=logo.png\r\n"
             b"Content-ID: <logo@example.org>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             + base64.encodebytes(PNG).replace(b"\n", b"\r\n"))
    if kind == "mixed-image":
        return multipart("mixed", [image, shown], number)
    assert kind == "related"
    root = shown.replace(b"\r\n\r\n", b"\r\nContent-ID: <root@example.org>\r\n\r\n", 1)
    return multipart("related", [image, root], number, "; start=\"<root@example.org>\"")


def message(shape: Shape, blanks: list[str], first: str, leaf: Leaf) -> bytes:
    head = ("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n"
            "Subject: Case update\r\nMessage-ID: <p1@example.org>\r\nMIME-Version: 1.0\r\n")
    return head.encode("ascii") + build(shape, blanks, first, leaf)


@st.composite
def stamped(draw: st.DrawFn) -> tuple[bytes, Stamp]:
    stamp = draw(st.sampled_from(list(Stamp)))
    phrase = draw(st.sampled_from(PHRASES[stamp]))
    first = draw(disguised(phrase))
    blanks = draw(st.lists(st.sampled_from(BLANK_LINES), max_size=4))
    return message(draw(SHAPES), blanks, first, draw(leaves())), stamp


@st.composite
def benign(draw: st.DrawFn) -> bytes:
    first = draw(disguised(draw(st.sampled_from(BENIGN))))
    blanks = draw(st.lists(st.sampled_from(BLANK_LINES), max_size=4))
    return message(draw(SHAPES), blanks, first, draw(leaves(sentence=True)))


@SETTINGS
@given(stamped())
def test_display_preserving_noise_never_changes_the_stamp(
        vocabulary: Vocabulary, case: tuple[bytes, Stamp]) -> None:
    data, stamp = case
    reading = read_now(data, vocabulary).reading
    assert reading.stamp is stamp, data
    assert reading.unreadable == (), data
    assert reading.embedded == (), data


@SETTINGS
@given(benign())
def test_the_same_noise_around_a_sentence_never_yields_a_stamp(
        vocabulary: Vocabulary, data: bytes) -> None:
    reading = read_now(data, vocabulary).reading
    assert reading.stamp is None, data
    assert reading.unreadable == (), data


def test_letters_that_look_like_a_small_capital_read_as_its_letter(
        vocabulary: Vocabulary) -> None:
    # Found by the property above: TR39 gives Greek tau and Cyrillic te the small capital T
    # as their look-alike, and "Inτernal" displays as Internal.
    for first, stamp in (("I\u0274\u03c4\u0435\u0280\u0274\u0430\u029f", Stamp.INTERNAL),
                         ("Confiden\u0442ial", Stamp.CONFIDENTIAL),
                         ("Cleared for publica\u03c4ion", Stamp.CLEARED)):
        data = message(("plain",), [], first, Leaf("utf-8", "8bit", (), None, False, "p",
                                                    False, False, False, False))
        assert read_now(data, vocabulary).reading.stamp is stamp
