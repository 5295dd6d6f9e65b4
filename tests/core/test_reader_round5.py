"""Readings added for what clients draw beyond the folded text: letters read by their shape,
a calendar invite's title, base64 in padded pieces, UTF-16 and UTF-32 encoded words without
a byte-order mark, Outlook's categories and UTF-8 under a legacy label."""

from __future__ import annotations

import base64

import pytest

from gateway.core.invite import shown_invite
from gateway.core.model import Stamp
from gateway.core.shapes import shaped
from gateway.core.stamps import Vocabulary
from gateway.core.transfer import Encoding, undo
from gateway.service.reading import read_now
from tests.core.mail import plain, raw

CLEARED = "Cleared for publication"


def stamp_of(data: bytes, vocabulary: Vocabulary) -> Stamp | None:
    return read_now(data, vocabulary).reading.stamp


# --- letters read by their shape (core/shapes.py)

def test_shaped_reads_capitals_and_decorated_letters_as_drawn() -> None:
    assert shaped("\u0399\u039d\u03a4\u0395RNAL") == "INTERNAL"  # Greek capitals
    assert shaped("\u0187\u00d8\u019d") == "CON"  # hook, stroke, left hook
    assert shaped("\u023d\u0268") == "Li"  # bar, small i with stroke
    assert shaped("plain ASCII") is None
    assert shaped("Autoris\u00e9") is None  # an accent decomposes: the folding reads it


@pytest.mark.parametrize("line", [
    "\u0399\u039d\u03a4\u0395RN\u0391L",  # Greek capitals ΙΝΤΕ, Α
    "CO\u039dFIDE\u039dTIAL",  # Greek capital Nu
    "\u0187\u00d8\u019d\u0191\u0197\u018a\u0190\u019d\u01ac\u0197\u023a\u023d",  # hooks, strokes
    "\u023b\u00d8\u014aF\u0197\u0110\u0246\u014a\u0166\u0197\u023a\u0141",  # engs, strokes
])
def test_a_stamp_drawn_in_look_alike_capitals_counts(vocabulary: Vocabulary,
                                                     line: str) -> None:
    data = plain(f"{CLEARED}\n{line}\n\nThe story is attached.")
    assert stamp_of(data, vocabulary) in (Stamp.INTERNAL, Stamp.CONFIDENTIAL)


def test_a_cleared_read_only_by_shape_does_not_clear(vocabulary: Vocabulary) -> None:
    # ϹLΕΑRΕD: Greek capitals that fold to other letters; the shape reading cannot clear.
    data = plain("\u03f9L\u0395\u0391R\u0395D\n\nThe story is attached.")
    assert stamp_of(data, vocabulary) is None


@pytest.mark.parametrize("body", [
    f"{CLEARED}\n\n\u039a\u0391\u039b\u0397\u039c\u0395\u03a1\u0391, the text is ready.",
    "\u0420\u0430\u0437\u0440\u0435\u0448\u0435\u043d\u043e \u043a \u043f\u0443\u0431\u043b"
    "\u0438\u043a\u0430\u0446\u0438\u0438\n\n\u0412\u041d\u0418\u041c\u0410\u041d\u0418\u0415:"
    " \u0442\u0435\u043a\u0441\u0442 \u0433\u043e\u0442\u043e\u0432.",
    f"{CLEARED}\n\nS\u00f8ren and \u0141ukasz wrote the story.",
])
def test_greek_russian_and_nordic_mail_stays_cleared(vocabulary: Vocabulary,
                                                     body: str) -> None:
    assert stamp_of(plain(body), vocabulary) is Stamp.CLEARED


# --- a calendar shown as an invite (core/invite.py)

INVITE = ("BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nDTSTART:20270105T100000Z\n"
          "SUMMARY;LANGUAGE=en-GB:{}\nLOCATION:Room 2\\, second floor\nEND:VEVENT\n"
          "END:VCALENDAR\n")


def with_invite(title: str, subtype: str = "alternative") -> bytes:
    return raw(f'Subject: Meeting\nContent-Type: multipart/{subtype}; boundary="M"',
               f"--M\nContent-Type: text/plain\n\n{CLEARED}\n\nSee you there.\n"
               "--M\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\n\n"
               + INVITE.format(title) + "--M--\n")


def test_shown_invite_unfolds_and_unescapes() -> None:
    calendar = "BEGIN:VEVENT\r\nSUMMARY:Strictly \r\n confidential\r\nLOCATION:A\\, B\r\nEND:VEVENT"
    assert shown_invite("text/calendar", calendar) == "Strictly confidential\nA, B"
    assert shown_invite("text/plain", calendar) is None
    assert shown_invite("text/calendar", "BEGIN:VCALENDAR\nEND:VCALENDAR") is None


@pytest.mark.parametrize("title", ["Confidential", "CONFIDENTIAL", "Internal only"])
@pytest.mark.parametrize("subtype", ["alternative", "mixed"])
def test_an_invite_titled_with_a_stamp_counts(vocabulary: Vocabulary, title: str,
                                               subtype: str) -> None:
    assert stamp_of(with_invite(title, subtype), vocabulary) in (Stamp.CONFIDENTIAL,
                                                                 Stamp.INTERNAL)


@pytest.mark.parametrize("title", ["Press briefing: refugee week", "Internal review of the "
                                   "story before Friday"])
def test_an_invite_with_an_ordinary_title_leaves_the_cleared(vocabulary: Vocabulary,
                                                             title: str) -> None:
    assert stamp_of(with_invite(title), vocabulary) is Stamp.CLEARED


# --- base64 in padded pieces (core/transfer.py)

def test_padded_pieces_are_decoded_one_after_another(vocabulary: Vocabulary) -> None:
    pieces = base64.b64encode(b"Hello") + b"\n" + base64.b64encode(b" world\n")
    undone = undo(pieces, Encoding.BASE64)
    assert (undone.data, undone.alternative) == (b"Hello", b"Hello world\n")
    body = (base64.b64encode(f"{CLEARED}\n".encode()) + b"\n"
            + base64.b64encode(b"Confidential\n\nThe story.\n"))
    data = raw("Subject: x\nContent-Type: text/plain; charset=utf-8\n"
               "Content-Transfer-Encoding: base64", body)
    assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL


# --- header readings (core/message.py)

def encoded_word(charset: str, data: bytes) -> str:
    return f"=?{charset}?b?{base64.b64encode(data).decode()}?="


@pytest.mark.parametrize(("charset", "codec"), [("utf-16", "utf-16-be"),
                                                ("UTF-32", "utf-32-be"),
                                                ("ucs-2", "utf-16-be")])
def test_a_wide_encoded_word_without_a_byte_order_mark_is_read_big_endian_too(
        vocabulary: Vocabulary, charset: str, codec: str) -> None:
    subject = encoded_word(charset, "[Internal] Case 12".encode(codec))
    data = raw(f"Subject: {subject}\nContent-Type: text/plain", f"{CLEARED}\n\nThe story.\n")
    assert stamp_of(data, vocabulary) is Stamp.INTERNAL


def test_a_wide_subject_read_big_endian_does_not_clear(vocabulary: Vocabulary) -> None:
    subject = encoded_word("utf-16", f"{CLEARED} - story".encode("utf-16-be"))
    data = raw(f"Subject: {subject}\nContent-Type: text/plain", "The story.\n")
    assert stamp_of(data, vocabulary) is None
    little = encoded_word("utf-16", f"{CLEARED} - story".encode("utf-16"))  # with its mark
    data = raw(f"Subject: {little}\nContent-Type: text/plain", "The story.\n")
    assert stamp_of(data, vocabulary) is Stamp.CLEARED


@pytest.mark.parametrize("keywords", ["Confidential", "case 12, Confidential",
                                      "=?utf-8?q?Strictly_confidential?=, press"])
def test_keywords_shown_as_outlook_categories_count(vocabulary: Vocabulary,
                                                   keywords: str) -> None:
    data = raw(f"Subject: Story\nKeywords: {keywords}\nContent-Type: text/plain",
               f"{CLEARED}\n\nThe story.\n")
    assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL


def test_keywords_neither_clear_nor_withhold(vocabulary: Vocabulary) -> None:
    data = raw("Subject: Story\nKeywords: Cleared for publication\nContent-Type: text/plain",
               "The story.\n")
    assert stamp_of(data, vocabulary) is None
    data = raw("Subject: Story\nKeywords: press, refugee week\nContent-Type: text/plain",
               f"{CLEARED}\n\nThe story.\n")
    assert stamp_of(data, vocabulary) is Stamp.CLEARED


# --- valid UTF-8 under another label (core/charsets.py)

RU_CONFIDENTIAL = "Конфиденциально"


@pytest.mark.parametrize("label", ["windows-1251", "iso-8859-1", "koi8-r", "cp1252"])
def test_utf8_under_a_legacy_label_is_also_read_as_utf8(vocabulary: Vocabulary,
                                                        label: str) -> None:
    body = f"{CLEARED}\n{RU_CONFIDENTIAL}\n\nThe story.\n".encode()
    data = raw(f"Subject: x\nContent-Type: text/plain; charset={label}", body)
    assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL


@pytest.mark.parametrize(("label", "text"), [
    ("windows-1251", "\u0420\u0430\u0437\u0440\u0435\u0448\u0435\u043d\u043e \u043a "
     "\u043f\u0443\u0431\u043b\u0438\u043a\u0430\u0446\u0438\u0438\n\n\u0422\u0435\u043a"
     "\u0441\u0442 \u0433\u043e\u0442\u043e\u0432.\n"),
    ("iso-8859-1", "Autoris\u00e9 pour publication\n\nLe texte est pr\u00eat.\n"),
])
def test_legacy_text_under_its_label_stays_cleared(vocabulary: Vocabulary, label: str,
                                                   text: str) -> None:
    codec = "cp1251" if label == "windows-1251" else "latin-1"
    data = raw(f"Subject: x\nContent-Type: text/plain; charset={label}", text.encode(codec))
    assert stamp_of(data, vocabulary) is Stamp.CLEARED


# --- checklists (core/near_top.py)

@pytest.mark.parametrize("box", ["[ ]", "[]", "( )", "[_]"])
@pytest.mark.parametrize("where", ["front", "after"])
def test_an_unticked_ascii_box_takes_a_cleared_back(vocabulary: Vocabulary, box: str,
                                                    where: str) -> None:
    line = f"{box} {CLEARED}" if where == "front" else f"{CLEARED}: {box}"
    assert stamp_of(plain(f"{line}\n\nThe story.", subject="Story"), vocabulary) is None


@pytest.mark.parametrize(("checklist", "stamp"), [
    (f"[ ] {CLEARED}\n[x] Internal", Stamp.INTERNAL),
    (f"[ ] {CLEARED}\n[ ] Needs adjustment\n[X] Confidential", Stamp.CONFIDENTIAL),
    (f"\u2610 {CLEARED}\n\u2611 Internal", Stamp.INTERNAL),
    (f"( ) {CLEARED}\n(v) Strictly confidential", Stamp.CONFIDENTIAL),
])
def test_the_box_ticked_below_an_unticked_cleared_counts(vocabulary: Vocabulary,
                                                         checklist: str, stamp: Stamp) -> None:
    assert stamp_of(plain(f"{checklist}\n\nThe story.", subject="Story"), vocabulary) is stamp


def test_a_ticked_box_never_clears_and_a_cleared_after_a_withdrawal_is_not_read(
        vocabulary: Vocabulary) -> None:
    assert stamp_of(plain(f"[x] {CLEARED}\n\nThe story.", subject="Story"), vocabulary) is None
    body = f"{CLEARED}: no\n{CLEARED}\n\nThe story."
    assert stamp_of(plain(body, subject="Story"), vocabulary) is None


@pytest.mark.parametrize("line", [f"[{CLEARED}]", f"{CLEARED} (see the notes below)",
                                  f"\u2611 {CLEARED}", f"[\u2713] {CLEARED}"])
def test_brackets_and_ticks_around_a_cleared_leave_it(vocabulary: Vocabulary,
                                                      line: str) -> None:
    assert stamp_of(plain(f"{line}\n\nThe story.", subject="Story"), vocabulary) is (
        Stamp.CLEARED)


# --- Subjects as drawn, and Outlook's Sensitivity (core/message.py)

@pytest.mark.parametrize("subject", [
    "=?utf-8?q?Case_12=0AConfidential?=",  # a line feed decoded from an encoded word
    "=?utf-8?q?Case_12=E2=80=A8Internal_only?=",  # U+2028
    "=?utf-8?q?Case_12_-_=E2=80=AElaitnedifnoC?=",  # a right-to-left override
    "=?utf-8?q?[=CE=99=CE=9D=CE=A4=CE=95RNAL]_case_12?=",  # Greek capitals
    "=?utf-8?q?=C6=87=C3=98=C6=9D=C6=91=C6=97=C6=8A=C6=90=C6=9D=C6=AC=C6=97=C8=BA=C8=BD:_x?=",
])
def test_a_subject_is_read_as_drawn_for_stricter_stamps(vocabulary: Vocabulary,
                                                        subject: str) -> None:
    data = raw(f"Subject: {subject}\nContent-Type: text/plain", f"{CLEARED}\n\nThe story.\n")
    assert stamp_of(data, vocabulary) in (Stamp.CONFIDENTIAL, Stamp.INTERNAL)


@pytest.mark.parametrize("subject", [
    "=?utf-8?q?Story=0ACleared_for_publication?=",
    "=?utf-8?q?=E2=80=AEnoitacilbup_rof_deraelC?=",
])
def test_a_subject_drawn_otherwise_does_not_clear(vocabulary: Vocabulary,
                                                  subject: str) -> None:
    data = raw(f"Subject: {subject}\nContent-Type: text/plain", "The story.\n")
    assert stamp_of(data, vocabulary) is None


def test_a_folded_subject_is_one_line(vocabulary: Vocabulary) -> None:
    data = raw("Subject: Training: how staff mark their mail\n Confidential\n"
               "Content-Type: text/plain", f"{CLEARED}\n\nThe story.\n")
    assert stamp_of(data, vocabulary) is Stamp.CLEARED


@pytest.mark.parametrize("value", ["Company-Confidential (set by the add-in)",
                                   '"Company-Confidential"', "company - confidential"])
def test_outlook_sensitivity_read_past_comments_and_quotes(vocabulary: Vocabulary,
                                                           value: str) -> None:
    data = raw(f"Subject: Story\nSensitivity: {value}\nContent-Type: text/plain",
               f"{CLEARED}\n\nThe story.\n")
    assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL


# --- 7-bit ISO-2022-JP without its label (core/charsets.py)

FULLWIDTH_INTERNAL = "\uff29\uff2e\uff34\uff25\uff32\uff2e\uff21\uff2c"


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain; charset=us-ascii"])
def test_iso2022jp_escapes_under_no_label_are_read_as_japanese(vocabulary: Vocabulary,
                                                               content_type: str) -> None:
    body = (f"{CLEARED}\n".encode() + f"{FULLWIDTH_INTERNAL}\n".encode("iso-2022-jp")
            + b"\nThe story.\n")
    data = raw(f"Subject: x\nContent-Type: {content_type}", body)
    assert stamp_of(data, vocabulary) is Stamp.INTERNAL


def test_unlabelled_japanese_under_a_cleared_stays_cleared(vocabulary: Vocabulary) -> None:
    japanese = "\u539f\u7a3f\u304c\u5b8c\u6210\u3057\u307e\u3057\u305f\n"
    body = f"{CLEARED}\n\n".encode() + japanese.encode("iso-2022-jp")
    data = raw("Subject: x\nContent-Type: text/plain", body)
    assert stamp_of(data, vocabulary) is Stamp.CLEARED
