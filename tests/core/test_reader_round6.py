"""Readings added for stricter stamps a reader sees that the reading missed: encoded words
as lenient decoders show them (and in the charset a detecting client takes), mislabelled
legacy text as a client that detects the charset shows it, the Cyrillic and Arabic charsets
such a client knows, HZ and ISO-2022-KR as Outlook decodes them, and an empty quote line
at the top."""

from __future__ import annotations

import base64
import quopri
import struct

import pytest

from gateway.core.model import Stamp
from gateway.core.policy import Policy
from gateway.core.stamps import Vocabulary
from gateway.policyfiles.testing import Scenario, decide_scenario
from gateway.service.reading import read_now
from tests.core.mail import plain, raw

CLEARED = "Cleared for publication"
RU_CONFIDENTIAL = "Конфиденциально"
STORY = "\n\nThe story of our client is below.\n"


def stamp_of(data: bytes, vocabulary: Vocabulary) -> Stamp | None:
    return read_now(data, vocabulary).reading.stamp


def b_word(charset: str, data: bytes) -> str:
    return f"=?{charset}?b?{base64.b64encode(data).decode('ascii')}?="


def q_word(charset: str, data: bytes) -> str:
    return f"=?{charset}?q?{''.join(f'={byte:02X}' for byte in data)}?="


def with_subject(subject: str, body: str = "Hello" + STORY) -> bytes:
    return raw(f"Subject: {subject}\nContent-Type: text/plain; charset=utf-8", body)


# --- encoded words as lenient decoders show them (core/message.py)

RU = RU_CONFIDENTIAL.encode()


@pytest.mark.parametrize("subject", [
    # a character split between two words: Thunderbird and Python's email join the bytes
    f"{b_word('utf-8', RU[:5])} {b_word('utf-8', RU[5:])}",
    f"{b_word('UTF-8', RU[:5])} {b_word('utf-8', RU[5:])}",  # the label's case
    f"{q_word('utf-8', RU[:3])}\n {q_word('utf-8', RU[3:])}",  # folded between them
    f"{b_word('utf-16le', 'Confidential'.encode('utf-16-le')[:7])} "
    f"{b_word('utf-16le', 'Confidential'.encode('utf-16-le')[7:])}",
    # base64 with excess padding, a bad tail, white space inside
    "=?utf-8?b?" + base64.b64encode(b"Internal").decode() + "==?=",
    "=?utf-8?b?" + base64.b64encode(b"Internal").decode() + "!!?=",
    "=?utf-8?b?Q29uZmlk ZW50aWFs?=",
])
def test_encoded_words_a_lenient_decoder_shows_count(vocabulary: Vocabulary,
                                                     subject: str) -> None:
    assert stamp_of(with_subject(subject), vocabulary) in (Stamp.INTERNAL,
                                                           Stamp.CONFIDENTIAL)


@pytest.mark.parametrize(("label", "codec"), [
    ("unknown-8bit", "cp1251"), ("utf-8", "cp1251"), ("us-ascii", "koi8_r"),
    ("x-unknown", "cp1256"),
])
def test_an_encoded_word_in_another_charset_than_its_label_is_read_as_detected(
        vocabulary: Vocabulary, label: str, codec: str) -> None:
    # Thunderbird decodes such a word in its fallback charset, the user's
    text = "محرمانه: پرونده" if codec == "cp1256" else f"{RU_CONFIDENTIAL}: дело 12"
    subject = f"Re: {b_word(label, text.encode(codec))}"
    assert stamp_of(with_subject(subject), vocabulary) is Stamp.CONFIDENTIAL


def test_an_encoded_cleared_in_a_detected_charset_does_not_clear(
        vocabulary: Vocabulary) -> None:
    subject = b_word("utf-8", "Разрешено к публикации".encode("cp1251"))
    assert stamp_of(with_subject(subject), vocabulary) is None


@pytest.mark.parametrize("label", ["cp037", "hz-gb-2312"])
def test_a_subject_only_python_decodes_does_not_clear(vocabulary: Vocabulary,
                                                      label: str) -> None:
    codec = "hz" if label.startswith("hz") else label
    assert stamp_of(with_subject(b_word(label, CLEARED.encode(codec))), vocabulary) is None
    stricter = with_subject(b_word(label, "Confidential: case 12".encode(codec)))
    assert stamp_of(stricter, vocabulary) is Stamp.CONFIDENTIAL


@pytest.mark.parametrize(("value", "stamp"), [
    (b_word("cp037", "confidential".encode("cp037")), Stamp.CONFIDENTIAL),
    ("=?hz-gb-2312?q?internal?=", Stamp.INTERNAL),
    ("=?utf-8?b?" + base64.b64encode(b"internal").decode() + "==?=", Stamp.INTERNAL),
])
def test_an_x_stamp_only_a_lenient_decoder_shows_still_counts(
        vocabulary: Vocabulary, value: str, stamp: Stamp) -> None:
    data = raw(f"Subject: Case\nX-Stamp: {value}\nContent-Type: text/plain", "Hello" + STORY)
    assert stamp_of(data, vocabulary) is stamp
    cleared = raw(f"Subject: Case\nX-Stamp: {b_word('cp037', b'cleared'.decode().encode('cp037'))}"
                  "\nContent-Type: text/plain", "Hello" + STORY)
    assert stamp_of(cleared, vocabulary) is None


def test_outlook_conversation_topic_split_between_words_counts(
        vocabulary: Vocabulary) -> None:
    topic = f"{b_word('utf-8', RU[:5])} {b_word('utf-8', RU[5:])}"
    data = raw(f"Subject: Case\nThread-Topic: {topic}\nContent-Type: text/plain",
               "Hello" + STORY)
    assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL


def test_a_cleared_only_a_lenient_decoder_shows_does_not_clear(
        vocabulary: Vocabulary) -> None:
    subject = "=?utf-8?b?" + base64.b64encode(CLEARED.encode()).decode() + "==?="
    assert stamp_of(with_subject(subject), vocabulary) is None


@pytest.mark.parametrize("subject", [
    "=?utf-8?q?Newsletter_=E2=80=93_Cleared_for_publication?=",
    f"{b_word('utf-8', f'{CLEARED} – Кейс 12'.encode()[:30])} "
    f"{b_word('utf-8', f'{CLEARED} – Кейс 12'.encode()[30:])}",
])
def test_an_encoded_cleared_subject_still_clears(vocabulary: Vocabulary,
                                                 subject: str) -> None:
    assert stamp_of(with_subject(subject), vocabulary) is Stamp.CLEARED


# --- HZ and ISO-2022-KR as Outlook decodes them (core/charsets.py)

FULLWIDTH_INTERNAL = "\uff29\uff2e\uff34\uff25\uff32\uff2e\uff21\uff2c"


@pytest.mark.parametrize(("label", "codec"), [("hz-gb-2312", "hz"),
                                              ("iso-2022-kr", "iso2022_kr")])
def test_a_replacement_label_is_also_read_with_its_code_page(vocabulary: Vocabulary,
                                                              label: str, codec: str) -> None:
    body = (FULLWIDTH_INTERNAL + "\n\nThe story.\n").encode(codec)
    data = raw(f"Subject: Case\nContent-Type: text/plain; charset={label}", body)
    assert stamp_of(data, vocabulary) is Stamp.INTERNAL
    subject = "=?hz-gb-2312?q?" + FULLWIDTH_INTERNAL.encode("hz").decode("ascii") + "?="
    assert stamp_of(with_subject(subject), vocabulary) is Stamp.INTERNAL


# --- mislabelled and unlabelled legacy text (core/charsets.py)

@pytest.mark.parametrize(("label", "body"), [
    ("iso-8859-1", f"{RU_CONFIDENTIAL}{STORY}".encode("koi8-r")),
    ("iso-8859-1", f"{RU_CONFIDENTIAL}{STORY}".encode("cp1251")),
    ("windows-1252", f"محرمانه{STORY}".encode("cp1256")),
    ("iso-8859-2", f"Строго конфиденциально{STORY}".encode("cp1251")),
    ("windows-1251", f"{RU_CONFIDENTIAL}{STORY}".encode("koi8-r")),
])
def test_legacy_text_under_another_legacy_label_is_read_as_detected(
        vocabulary: Vocabulary, label: str, body: bytes) -> None:
    data = raw(f"Subject: Case\nContent-Type: text/plain; charset={label}", body)
    assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL


@pytest.mark.parametrize(("codec", "text"), [
    ("iso8859_5", RU_CONFIDENTIAL), ("cp866", RU_CONFIDENTIAL), ("iso8859_6", "سري"),
])
def test_unlabelled_cyrillic_and_arabic_in_a_detected_charset_count(
        vocabulary: Vocabulary, codec: str, text: str) -> None:
    for label in ("", "; charset=us-ascii"):
        data = raw(f"Subject: Case\nContent-Type: text/plain{label}",
                   f"{text}{STORY}".encode(codec))
        assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL


@pytest.mark.parametrize(("label", "body", "cte"), [
    ("iso-8859-1", "Autorisé pour publication\n\nLe récit est prêt. Déjà vu.\n", "8bit"),
    ("iso-8859-1", "Zur Veröffentlichung freigegeben\n\nGrüße aus Köln.\n",
     "quoted-printable"),
    ("windows-1251", "Разрешено к публикации\n\nТекст готов.\n", "8bit"),
    ("koi8-r", "Разрешено к публикации\n\nТекст готов.\n", "base64"),
    ("iso-8859-9", "Yayına onaylı\n\nHikâye hazır. Görüşürüz.\n", "8bit"),
    ("windows-1256", "مسموح بالنشر\n\nالنص جاهز.\n", "8bit"),
])
def test_legacy_cleared_mail_under_its_own_label_stays_cleared(
        vocabulary: Vocabulary, label: str, body: str, cte: str) -> None:
    data = body.encode(label)
    payload = (base64.encodebytes(data) if cte == "base64"
               else quopri.encodestring(data) if cte == "quoted-printable" else data)
    message = raw(f"Subject: News\nContent-Type: text/plain; charset={label}\n"
                  f"Content-Transfer-Encoding: {cte}", payload)
    assert stamp_of(message, vocabulary) is Stamp.CLEARED


@pytest.mark.parametrize("body", [
    "Hallo Bob,\n\nschöne Grüße aus Köln, bis Montag.\n",
    "Bonjour,\n\nle dossier est prêt, à lundi.\n",
])
def test_ordinary_legacy_mail_stays_unstamped(vocabulary: Vocabulary, body: str) -> None:
    data = raw("Subject: Hallo\nContent-Type: text/plain; charset=iso-8859-1",
               body.encode("latin-1"))
    assert stamp_of(data, vocabulary) is None


def test_ordinary_mail_keeps_its_verdicts(vocabulary: Vocabulary) -> None:
    assert stamp_of(plain(f"{CLEARED}\n\nOur newsletter."), vocabulary) is Stamp.CLEARED
    assert stamp_of(plain("Hi Bob,\n\nLunch tomorrow?"), vocabulary) is None
    reply = plain(f"{CLEARED}\n\nThanks!\n\nOn Mon, Bob wrote:\n> the draft\n")
    assert stamp_of(reply, vocabulary) is Stamp.CLEARED
    assert stamp_of(plain("Internal audit starts Monday.\n\nPlease prepare."),
                    vocabulary) is None


# --- a raw 8-bit Subject in the locale charsets (core/message.py)

def with_raw_subject(subject: bytes, content_type: str = "text/plain") -> bytes:
    head = (b"From: alice@example.org\r\nSubject: " + subject +
            f"\r\nContent-Type: {content_type}\r\n\r\n".encode("ascii"))
    return head + b"Hello\r\n\r\nThe story.\r\n"


@pytest.mark.parametrize(("codec", "content_type"), [
    ("cp1251", "text/plain"), ("koi8_r", "text/plain"), ("iso8859_5", "text/plain"),
    ("koi8_r", "text/plain; charset=windows-1251"), ("koi8_r", "text/plain; charset=utf-8"),
])
def test_a_raw_subject_is_read_in_the_locale_charsets(vocabulary: Vocabulary, codec: str,
                                                      content_type: str) -> None:
    data = with_raw_subject(f"{RU_CONFIDENTIAL}: дело 12".encode(codec), content_type)
    assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL


@pytest.mark.parametrize(("field", "codec"), [("Thread-Topic", "cp1251"),
                                              ("Keywords", "koi8_r"),
                                              ("X-Message-Flag", "cp866")])
def test_outlooks_shown_fields_in_raw_8bit_are_read_in_the_locale_charsets(
        vocabulary: Vocabulary, field: str, codec: str) -> None:
    data = (f"From: alice@example.org\r\nSubject: Case\r\n{field}: ".encode("ascii")
            + RU_CONFIDENTIAL.encode(codec) + b"\r\nContent-Type: text/plain\r\n\r\nHello\r\n")
    assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL


def test_a_raw_subject_in_a_locale_charset_neither_clears_nor_stamps_by_chance(
        vocabulary: Vocabulary) -> None:
    # the locale readings are for stricter stamps: a Cleared in them does not clear
    assert stamp_of(with_raw_subject("Разрешено к публикации".encode("koi8_r")),
                    vocabulary) is None
    assert stamp_of(with_raw_subject("Grüße aus Köln".encode("latin-1")), vocabulary) is None
    utf8 = with_raw_subject(f"{CLEARED} – Grüße".encode())
    assert stamp_of(utf8, vocabulary) is Stamp.CLEARED


# --- an empty quote line at the top (core/scan.py)

@pytest.mark.parametrize("body", [
    ">\nConfidential\n\nThe story.\n",
    "> \n\nConfidential\n\nThe story.\n",
    ">>>\nInternal\n\nThe story.\n",
    "> ---\nConfidential\n\nThe story.\n",
])
def test_an_empty_quote_line_does_not_end_the_top(vocabulary: Vocabulary, body: str) -> None:
    assert stamp_of(plain(body), vocabulary) in (Stamp.INTERNAL, Stamp.CONFIDENTIAL)
    flowed = raw("Subject: x\nContent-Type: text/plain; charset=utf-8; format=flowed", body)
    assert stamp_of(flowed, vocabulary) in (Stamp.INTERNAL, Stamp.CONFIDENTIAL)


def test_quoted_text_still_ends_the_top(vocabulary: Vocabulary) -> None:
    assert stamp_of(plain("> Are you free?\nConfidential\n\nThe story.\n"), vocabulary) is None
    reply = plain(f"{CLEARED}\n\nOn Mon, Bob wrote:\n>\n> Thanks\n")
    assert stamp_of(reply, vocabulary) is Stamp.CLEARED


# --- winmail.dat: the body Outlook shows from TNEF (core/doc_tnef.py)

def tnef_attribute(level: int, ident: int, value: bytes) -> bytes:
    return (bytes((level,)) + struct.pack("<II", ident, len(value)) + value
            + struct.pack("<H", sum(value) & 0xFFFF))


def mapi_text(kind: int, ident: int, value: bytes) -> bytes:
    return (struct.pack("<HHII", kind, ident, 1, len(value)) + value
            + b"\x00" * (-len(value) % 4))


def lzfu(raw: bytes) -> bytes:
    """Compressed RTF of literals only, ended by a reference to where it is written."""
    body = bytearray()
    for start in range(0, len(raw) - len(raw) % 8, 8):
        body += b"\x00" + raw[start:start + 8]
    rest = raw[len(raw) - len(raw) % 8:]
    end = (DICTIONARY + len(raw)) % 4096
    body += bytes((1 << len(rest),)) + rest + struct.pack(">H", end << 4)
    return struct.pack("<IIII", len(body) + 12, len(raw), 0x75465A4C, 0) + bytes(body)


DICTIONARY = 207  # the length of compressed RTF's initial dictionary


def winmail(*attributes: bytes) -> bytes:
    return b"\x78\x9f\x3e\x22\x01\x00" + b"".join(attributes)


def with_winmail(tnef: bytes, text: str = "Hello" + STORY) -> bytes:
    payload = base64.encodebytes(tnef).decode("ascii")
    return raw('Subject: Case\nContent-Type: multipart/mixed; boundary="W"',
               f"--W\nContent-Type: text/plain; charset=utf-8\n\n{text}\n"
               "--W\nContent-Type: application/ms-tnef; name=winmail.dat\n"
               "Content-Disposition: attachment; filename=winmail.dat\n"
               f"Content-Transfer-Encoding: base64\n\n{payload}--W--\n")


RTF_BODY = (b"{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Arial;}}\\f0 Confidential\\par\\par "
            b"The story.\\par}")


@pytest.mark.parametrize("tnef", [
    winmail(tnef_attribute(1, 0x0002800C, b"Confidential\r\n\r\nThe story.\x00")),
    winmail(tnef_attribute(1, 0x00069003, struct.pack("<I", 1) + mapi_text(
        0x001F, 0x1000, "Confidential\r\n\r\nThe story.\x00".encode("utf-16-le")))),
    winmail(tnef_attribute(1, 0x00069003, struct.pack("<I", 2)
                           + struct.pack("<HHI", 0x0003, 0x0E07, 1)  # a fixed-size one first
                           + mapi_text(0x0102, 0x1009, lzfu(RTF_BODY)))),
    winmail(tnef_attribute(1, 0x00018004, b"Confidential: case 12\x00")),
])
def test_the_body_outlook_shows_from_winmail_dat_counts(policy: Policy, tnef: bytes) -> None:
    data = with_winmail(tnef)
    outside = decide_scenario(policy, Scenario(sender="alice@example.org",
                                               recipients=("someone@outside.test",),
                                               message=data))
    assert outside.verdict.value != "allow"
    reading = read_now(data, policy.vocabulary).reading
    assert Stamp.CONFIDENTIAL in [f.stamp for f in reading.embedded]


def test_a_file_inside_winmail_dat_is_read(vocabulary: Vocabulary) -> None:
    tnef = winmail(tnef_attribute(1, 0x0002800C, b"Hello\x00"),
                   tnef_attribute(2, 0x00018010, b"notes.txt\x00"),
                   tnef_attribute(2, 0x0006800F, b"Internal\r\n\r\nThe notes.\r\n"))
    reading = read_now(with_winmail(tnef), vocabulary).reading
    assert [f.stamp for f in reading.embedded] == [Stamp.INTERNAL]


def test_an_unstamped_winmail_dat_changes_nothing(vocabulary: Vocabulary) -> None:
    tnef = winmail(tnef_attribute(1, 0x0002800C, b"Hello Bob,\r\n\r\nsee you.\x00"))
    reading = read_now(with_winmail(tnef, f"{CLEARED}\n\nHello Bob"), vocabulary).reading
    assert reading.stamp is Stamp.CLEARED and reading.embedded == () and reading.files == ()


def test_a_broken_winmail_dat_cannot_be_read(vocabulary: Vocabulary) -> None:
    cut = winmail(tnef_attribute(1, 0x0002800C, b"Confidential\x00"))[:-8]
    reading = read_now(with_winmail(cut), vocabulary).reading
    assert any("cannot be read" in why for why in reading.files)


# --- comments among the parameters (core/mime_entity.py)

UTF7_CONFIDENTIAL = "+AEMAbwBuAGYAaQBkAGUAbgB0AGkAYQBs-"


@pytest.mark.parametrize(("content_type", "body"), [
    ("text/plain; (c) charset=utf-7", f"{UTF7_CONFIDENTIAL}{STORY}"),
    ("text/plain; charset=(c)utf-7", f"{UTF7_CONFIDENTIAL}{STORY}"),
    ("text/plain; (Thunderbird) format=flowed; delsp=yes", f"Confi \ndential{STORY}"),
    ('multipart/mixed;\n (a comment)\n boundary="B"',
     f"--B\nContent-Type: text/plain\n\nConfidential{STORY}--B--\n"),
])
def test_parameters_are_read_without_their_comments(vocabulary: Vocabulary,
                                                    content_type: str, body: str) -> None:
    data = raw(f"Subject: Case\nContent-Type: {content_type}", body)
    assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL


@pytest.mark.parametrize("content_type", [
    "text/plain; charset=utf-8 (Plain text)",
    'text/plain; charset="utf-8" (Plain text); format=flowed',
    'text/plain; name="notes (1).txt"; charset=utf-8',
])
def test_a_comment_among_the_parameters_keeps_a_cleared(vocabulary: Vocabulary,
                                                        content_type: str) -> None:
    data = raw(f"Subject: Case\nContent-Type: {content_type}",
               f"{CLEARED}\n\nGrüße aus Köln.\n")
    read = read_now(data, vocabulary)
    assert read.reading.stamp is Stamp.CLEARED and read.facts.unreadable == ()


@pytest.mark.parametrize("properties", [
    struct.pack("<I", 10_000) + struct.pack("<HHI", 0x1003, 0x0E07, 1_000_000_000) * 3,
    struct.pack("<I", 1) + struct.pack("<HHI", 0x101F, 0x1000, 4_000_000_000),
])
def test_a_hostile_properties_block_is_unreadable_not_slow(vocabulary: Vocabulary,
                                                           properties: bytes) -> None:
    tnef = winmail(tnef_attribute(1, 0x00069003, properties))
    reading = read_now(with_winmail(tnef), vocabulary).reading
    assert any("cannot be read" in why for why in reading.files)
