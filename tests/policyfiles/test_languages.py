"""The stamp phrases of the example policy in each of its languages."""

from __future__ import annotations

import base64
import quopri
from email.header import Header
from pathlib import Path

import pytest

from gateway.core.message import read_message
from gateway.core.model import Location, Stamp
from gateway.core.stamps import read_stamps
from gateway.core.text import normalise_phrase
from gateway.policyfiles.load import PolicyError, load_policy
from tests.policyfiles.conftest import EXAMPLE

POLICY = load_policy(EXAMPLE)

PHRASES = {
    "français": {
        Stamp.CLEARED: ["Autorisé pour publication", "Publication autorisée"],
        Stamp.NEEDS_ADJUSTMENT: ["À adapter", "Nécessite des ajustements"],
        Stamp.INTERNAL: ["Interne", "Usage interne", "Diffusion restreinte"],
        Stamp.CONFIDENTIAL: ["Confidentiel", "Strictement confidentiel"],
    },
    "español": {
        Stamp.CLEARED: ["Autorizado para publicación", "Publicación autorizada"],
        Stamp.NEEDS_ADJUSTMENT: ["Necesita ajustes"],
        Stamp.INTERNAL: ["Interno", "Uso interno"],
        Stamp.CONFIDENTIAL: ["Confidencial", "Estrictamente confidencial"],
    },
    "العربية": {
        Stamp.CLEARED: ["مسموح بالنشر"],
        Stamp.NEEDS_ADJUSTMENT: ["يحتاج إلى تعديل"],
        Stamp.INTERNAL: ["داخلي"],
        Stamp.CONFIDENTIAL: ["سري", "سري للغاية"],
    },
    "Deutsch": {
        Stamp.CLEARED: ["Zur Veröffentlichung freigegeben"],
        Stamp.NEEDS_ADJUSTMENT: ["Anpassung erforderlich"],
        Stamp.INTERNAL: ["Intern", "Nur für den internen Gebrauch", "Nur für den Dienstgebrauch"],
        Stamp.CONFIDENTIAL: ["Vertraulich", "Streng vertraulich"],
    },
    "italiano": {
        Stamp.CLEARED: ["Approvato per la pubblicazione"],
        Stamp.NEEDS_ADJUSTMENT: ["Richiede modifiche"],
        Stamp.INTERNAL: ["Interno", "Uso interno"],
        Stamp.CONFIDENTIAL: ["Riservato", "Strettamente riservato", "Confidenziale"],
    },
    "português": {
        Stamp.CLEARED: ["Autorizado para publicação", "Publicação autorizada"],
        Stamp.NEEDS_ADJUSTMENT: ["Precisa de ajustes"],
        Stamp.INTERNAL: ["Interno", "Uso interno"],
        Stamp.CONFIDENTIAL: ["Confidencial", "Estritamente confidencial"],
    },
    "русский": {
        Stamp.CLEARED: ["Разрешено к публикации"],
        Stamp.NEEDS_ADJUSTMENT: ["Требует доработки"],
        Stamp.INTERNAL: ["Внутренний", "Для внутреннего использования",
                         "Для служебного пользования"],
        Stamp.CONFIDENTIAL: ["Конфиденциально", "Строго конфиденциально"],
    },
    "فارسی": {
        Stamp.CLEARED: ["مجاز برای انتشار"],
        Stamp.NEEDS_ADJUSTMENT: ["نیاز به اصلاح"],
        Stamp.INTERNAL: ["داخلی", "استفاده داخلی"],
        Stamp.CONFIDENTIAL: ["محرمانه", "کاملاً محرمانه"],
    },
    "Türkçe": {
        Stamp.CLEARED: ["Yayına onaylı"],
        Stamp.NEEDS_ADJUSTMENT: ["Düzeltme gerekli"],
        Stamp.INTERNAL: ["Dahili", "Kurum içi"],
        Stamp.CONFIDENTIAL: ["Gizli", "Kesinlikle gizli"],
    },
    "English label forms": {
        Stamp.NEEDS_ADJUSTMENT: ["Need adjustment", "Needs adjusting", "Requires adjustment",
                                 "Adjustments needed", "Adjustment required"],
        Stamp.INTERNAL: ["Internal use only", "For internal use", "Not for publication",
                         "For official use only"],
        Stamp.CONFIDENTIAL: ["Private & Confidential", "Strictly confidential",
                             "Company confidential", "Restricted", "Sensitive"],
    },
}
CASES = [(language, stamp, phrase) for language, stamps in PHRASES.items()
         for stamp, phrases in stamps.items() for phrase in phrases]


def _message(body: str, subject: str = "Update", extra: str = "") -> bytes:
    head = (f"From: amira@example.org\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n{extra}")
    encoded = base64.encodebytes(body.encode()).decode().replace("\n", "\r\n")
    return (head + "Content-Transfer-Encoding: base64\r\n\r\n" + encoded).encode()


def _stamp(data: bytes) -> tuple[Stamp | None, tuple[Location, ...]]:
    reading = read_stamps(read_message(data), POLICY.vocabulary)
    return reading.stamp, reading.where


def _with_marks(phrase: str) -> str:
    """Arabic as people type it for emphasis: tatweel between letters, harakat on them."""
    out = []
    for char in phrase:
        out.append(char)
        if "\u0621" <= char <= "\u064a" and char not in "اأإآدذرزوؤةى":
            out.append("\u0640\u064e")  # tatweel, fatha
        elif "\u0621" <= char <= "\u064a":
            out.append("\u0651")  # shadda
    return "".join(out)


def test_every_phrase_is_in_the_example_policy() -> None:
    for _, stamp, phrase in CASES:
        assert phrase in POLICY.stamps[stamp].phrases


def test_no_phrase_names_two_stamps() -> None:
    owner: dict[str, Stamp] = {}
    for stamp, vocabulary in POLICY.stamps.items():
        for phrase in vocabulary.phrases:
            assert owner.setdefault(normalise_phrase(phrase), stamp) is stamp, phrase


@pytest.mark.parametrize(("language", "stamp", "phrase"), CASES)
def test_a_stamp_line_in_each_language_is_read(language: str, stamp: Stamp,
                                               phrase: str) -> None:
    for line in (phrase, phrase.upper(), f"[{phrase}]", f"*** {phrase} ***",
                 f"Stamp: {phrase}", f"{phrase} -- ne pas transférer"):
        assert _stamp(_message(f"\r\n{line}\r\n\r\nBonjour, hola, مرحبا\r\n")) == (
            stamp, (Location.BODY,)), (language, line)


@pytest.mark.parametrize("phrase", [p for lang, _, p in CASES if lang == "العربية"])
def test_arabic_is_read_with_tatweel_and_diacritics(phrase: str) -> None:
    marked = _with_marks(phrase)
    assert marked != phrase and "\u0640" in marked
    expected = next(stamp for _, stamp, p in CASES if p == phrase)
    assert _stamp(_message(f"{marked}\r\nتفاصيل الملف.\r\n"))[0] is expected
    # right-to-left marks that some clients insert are invisible too
    assert _stamp(_message(f"\u200f{marked}\u200f\r\n"))[0] is expected


def test_arabic_stamp_in_the_subject() -> None:
    subject = Header("[سـرّي] تحديث الحالة", "utf-8").encode()
    assert _stamp(_message("مرحبا\r\n", subject=subject)) == (Stamp.CONFIDENTIAL,
                                                              (Location.SUBJECT,))


def test_arabic_sentence_is_not_a_stamp() -> None:
    assert _stamp(_message("داخلي الاجتماع يوم الاثنين\r\n"))[0] is None


@pytest.mark.parametrize("sentence", [
    "Vertrauliche Gespräche finden im Büro statt.", "Intern wurde das besprochen.",
    "Riservato a chi ha partecipato alla riunione.", "Gizli bilgiler ektedir.",
    "Внутренний аудит начнётся в понедельник.", "محرمانه بودن اطلاعات مهم است.",
    "Private and confidential matters were discussed.", "Internal use of the room is free.",
])
def test_a_sentence_in_any_language_is_not_a_stamp(sentence: str) -> None:
    assert _stamp(_message(f"{sentence}\r\n"))[0] is None


@pytest.mark.parametrize(("line", "expected"), [
    ("Конфиденциально", Stamp.CONFIDENTIAL),
    ("К О Н Ф И Д Е Н Ц И А Л Ь Н О", Stamp.CONFIDENTIAL),
    ("V-E-R-T-R-A-U-L-I-C-H", Stamp.CONFIDENTIAL),
    ("Vertraulcih", Stamp.CONFIDENTIAL),  # one swap in a long word
    ("PRIVATE AND CONFIDENTIAL", Stamp.CONFIDENTIAL),
    ("Internal-use-only", Stamp.INTERNAL),
    ("محرمـــانه", Stamp.CONFIDENTIAL),  # tatweel in Persian too
])
def test_labels_in_other_languages_are_read_however_written(line: str,
                                                            expected: Stamp) -> None:
    assert _stamp(_message(f"{line}\r\n\r\nDetails.\r\n"))[0] is expected


def test_french_stamp_with_a_soft_break_inside_the_word() -> None:
    body = quopri.encodestring(b"Strictement confidentiel\r\n\r\nBonjour.\r\n")
    broken = body.replace(b"confidentiel", b"confiden=\r\ntiel")
    data = (b"From: amira@example.org\r\nSubject: Dossier\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + broken)
    assert _stamp(data)[0] is Stamp.CONFIDENTIAL


def test_spanish_and_french_adjustments_are_listed() -> None:
    for line, items in [
        ("Necesita ajustes en 2 puntos: difuminar la cara, cambiar el nombre",
         ("difuminar la cara", "cambiar el nombre")),
        ("À adapter en 2 points : flouter le visage et changer le nom",
         ("flouter le visage", "changer le nom")),
    ]:
        reading = read_stamps(read_message(_message(line + "\r\n")), POLICY.vocabulary)
        assert reading.stamp is Stamp.NEEDS_ADJUSTMENT
        assert reading.adjustments == items
        assert reading.stated_count == 2


def test_arabic_html_alternative_is_read() -> None:
    html = "<html dir='rtl'><body><p><b>سـري للغـايـة</b></p><p>تفاصيل</p></body></html>"
    data = ("From: amira@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(html.encode()).decode()).encode()
    assert _stamp(data) == (Stamp.CONFIDENTIAL, (Location.HTML,))


def test_an_arabic_phrase_that_collides_after_folding_is_refused(policies: Path) -> None:
    stamps = policies / "stamps.toml"
    text = stamps.read_text(encoding="utf-8")
    stamps.write_text(text.replace('"داخلي",', '"داخلي", "سـرّي",'), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(policies)
    [problem] = caught.value.problems  # reported at the later of the two, naming the first
    assert problem.key == "confidential.phrases"
    assert problem.value == "'سري'"
    assert problem.message == "collides with the phrase 'سـرّي' of internal"
    lines = stamps.read_text(encoding="utf-8").splitlines()
    assert problem.line is not None
    assert lines[problem.line - 1].strip() == '"سري", "سري للغاية",'



@pytest.mark.parametrize(("line", "cleared"), [
    ("Cleared for publication: NO", False),
    ("Cleared for publication - not yet", False),
    ("Cleared for publication ✗", False),
    ("Cleared for publication ❌", False),
    ("Cleared for publication: pending review", False),
    ("Publication autorisée : non", False),
    ("Zur Veröffentlichung freigegeben - noch nicht", False),
    ("Разрешено к публикации: нет", False),
    ("Cleared for publication", True),
    ("Cleared for publication - photos attached", True),
    ("Cleared for publication: notes below", True),  # a word that starts like one is not it
    # Answers that take it back standing alone (withdrawn_alone), not before a note.
    ("Cleared for publication: no", False),
    ("Cleared for publication - No.", False),
    ("Cleared for publication: no, pending review", False),
    ("Cleared for publication - no no", False),
    ("Cleared for publication - no longer", False),
    ("Cleared for publication - no consent yet", False),  # an approval it lacks
    ("Cleared for publication - nein!", False),
    ("Cleared for publication - no faces, pseudonym used", True),
    ("Cleared for publication - no changes since Monday", True),
    ("Разрешено к публикации - нет имён", True),
])
def test_a_trailer_that_takes_the_clearance_back(line: str, cleared: bool) -> None:
    vocabulary = load_policy(EXAMPLE).vocabulary
    parsed = vocabulary.parse_line(normalise_phrase(line))
    assert (parsed is not None and parsed.stamp is Stamp.CLEARED) is cleared


def test_a_trailer_does_not_take_a_stricter_stamp_back() -> None:
    vocabulary = load_policy(EXAMPLE).vocabulary
    parsed = vocabulary.parse_line(normalise_phrase("Confidential: no ✗"))
    assert parsed is not None and parsed.stamp is Stamp.CONFIDENTIAL


@pytest.mark.parametrize("key", ["withdrawn_by", "withdrawn_alone"])
def test_withdrawn_by_is_for_cleared_only(policies: Path, key: str) -> None:
    stamps = policies / "stamps.toml"
    text = stamps.read_text(encoding="utf-8")
    stamps.write_text(text.replace('[internal]\n', f'[internal]\n{key} = ["no"]\n'),
                      encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(policies)
    [problem] = caught.value.problems
    assert problem.key == f"internal.{key}"
    assert problem.message == "is for [cleared] only"
