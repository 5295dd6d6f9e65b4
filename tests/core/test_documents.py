"""Attached documents: every format with a stamp in each place, labels, unreadable files."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.attachments import read_attachment
from gateway.core.decision import Decision, decide
from gateway.core.documents import DEFAULT_LIMITS, MEGABYTE, DocumentLimits
from gateway.core.message import read_message
from gateway.core.model import Location, Stamp, Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.core.stamps import StampReading, read_stamps
from tests.core.register_clients import findings_in
from tests.support import documents as d

BOB, PRESS, PARTNER = "bob@example.org", "press@example.org", "partner@outside.test"
CLEARED = "Cleared for publication"


def reading_of(policy: Policy, attachments: list[tuple[str, bytes]], body: str = CLEARED,
               headers: dict[str, str] | None = None,
               limits: DocumentLimits = DEFAULT_LIMITS) -> StampReading:
    facts = read_message(d.mail(f"{body}\n\nSee the attachment.\n", attachments,
                                headers=headers), limits)
    return read_stamps(facts, policy.vocabulary)


def decision_of(policy: Policy, attachments: list[tuple[str, bytes]],
                recipients: tuple[str, ...] = (BOB, PRESS, PARTNER), body: str = CLEARED,
                headers: dict[str, str] | None = None) -> Decision:
    reading = reading_of(policy, attachments, body, headers)
    return decide(policy, reading, "alice@example.org",
                  [parse_recipient(r, "+") for r in recipients])


def verdicts(decision: Decision) -> dict[str, Verdict]:
    return {r.address: r.verdict for r in decision.recipients}


# Each format with the stamp in each place a reader of that format would see it.
PLACES = [
    ("report.docx", d.docx(["", "Confidential", "The story."]), Stamp.CONFIDENTIAL, "first line"),
    ("report.docx", d.docx(["The story."], header="Internal"), Stamp.INTERNAL, "header or footer"),
    ("report.docx", d.docx(["The story."], footer="Page 1 — Confidential"), Stamp.CONFIDENTIAL,
     "header or footer"),
    ("report.docx", d.docx(["The story."], title="[Internal] Budget"), Stamp.INTERNAL,
     "title or subject"),
    ("report.docx", d.docx(["The story."], subject="Confidential"), Stamp.CONFIDENTIAL,
     "title or subject"),
    ("report.docx", d.docx(["The story."], keywords="budget; Internal"), Stamp.INTERNAL,
     "keywords"),
    ("sheet.xlsx", d.xlsx(["Internal", "Amount"]), Stamp.INTERNAL, "first line"),
    ("slides.pptx", d.pptx(["Confidential", "Slide two"]), Stamp.CONFIDENTIAL, "first line"),
    ("notes.odt", d.odt(["Internal", "The story."]), Stamp.INTERNAL, "first line"),
    ("notes.odt", d.odt(["The story."], footer="Confidential"), Stamp.CONFIDENTIAL,
     "header or footer"),
    ("notes.odt", d.odt(["The story."], title="Internal"), Stamp.INTERNAL, "title or subject"),
    ("scan.pdf", d.pdf([["Confidential", "The story."]]), Stamp.CONFIDENTIAL, "first line"),
    ("scan.pdf", d.pdf([["The story.", "Internal"]]), Stamp.INTERNAL, "header or footer"),
    ("scan.pdf", d.pdf([["The story."]], {"Title": "Confidential"}), Stamp.CONFIDENTIAL,
     "title or subject"),
    ("scan.pdf", d.pdf([["The story."]], {"Keywords": "x, Internal"}), Stamp.INTERNAL,
     "keywords"),
    ("letter.rtf", d.rtf(["Internal", "The story."]), Stamp.INTERNAL, "first line"),
    ("letter.rtf", d.rtf(["The story."], header="Confidential"), Stamp.CONFIDENTIAL,
     "header or footer"),
    ("letter.rtf", d.rtf(["The story."], title="Internal"), Stamp.INTERNAL, "title or subject"),
    # Text files are read as mail text is (a message in disguise is read as one).
    ("list.csv", b"Confidential\nname,town\n", Stamp.CONFIDENTIAL, ""),
    ("notes.txt", "\ufeff\n\nInternal\nThe story.".encode(), Stamp.INTERNAL, ""),
    ("bundle.zip", d.zipped({"cases/report.docx": d.docx(["Confidential"])}),
     Stamp.CONFIDENTIAL, "bundle.zip/cases/report.docx, first line"),
    ("outer.zip", d.zipped({"inner.zip": d.zipped({"a.rtf": d.rtf(["Internal"])})}),
     Stamp.INTERNAL, "outer.zip/inner.zip/a.rtf, first line"),
]


@pytest.mark.parametrize(("name", "data", "stamp", "where"), PLACES,
                         ids=[f"{p[0]}-{p[3]}" for p in PLACES])
def test_a_stamp_in_each_place_of_each_format(policy: Policy, name: str, data: bytes,
                                              stamp: Stamp, where: str) -> None:
    reading = reading_of(policy, [(name, data)])
    assert reading.own and reading.stamp is Stamp.CLEARED  # the mail's own stamp stays
    found = [f for f in reading.embedded
             if f.location in (Location.DOCUMENT, Location.ATTACHED)]
    assert [f.stamp for f in found] == [stamp], found
    assert name in found[0].source and where in found[0].source
    assert reading.files == ()


@pytest.mark.parametrize("data", [
    d.docx(["Internal audit starts Monday.", "Confidential"]),
    d.docx(["The story.", "Confidential", "more"]),
    d.pdf([["The report is confidential and internal.", "Page 1"]]),
    d.rtf(["Our internal review", "Confidential"]),
    d.docx(["The story."], label="Confidential", enabled=False),
])
def test_sentences_and_stamps_below_the_top_are_not_stamps(policy: Policy, data: bytes) -> None:
    reading = reading_of(policy, [("file.bin", data)])
    assert reading.embedded == ()
    assert reading.unreadable == () and reading.files == ()


def test_a_stricter_document_under_a_cleared_mail_is_held_and_named(policy: Policy) -> None:
    decision = decision_of(policy, [("story.docx", d.docx(["Internal", "Names."]))])
    assert verdicts(decision) == {BOB: Verdict.ALLOW, PRESS: Verdict.HOLD,
                                  PARTNER: Verdict.HOLD}
    assert "downgrade" in decision.rules
    assert any("story.docx, first line" in reason for reason in decision.reasons)
    assert "Internal: story.docx, first line" in decision.sources


def test_the_strictest_of_mail_and_every_attachment_wins(policy: Policy) -> None:
    reading = reading_of(policy, [("a.pdf", d.pdf([["Internal"]])),
                                  ("b.docx", d.docx(["Confidential"])),
                                  ("c.rtf", d.rtf(["Cleared for publication"]))], body="Internal")
    decision = decide(policy, reading, "alice@example.org", [parse_recipient(BOB, "+")])
    assert decision.downgrade is not None and "Confidential" in decision.downgrade
    assert any("b.docx" in reason for reason in decision.reasons)


def with_labels(policy: Policy, msip: dict[str, str], unknown: str = "unreadable") -> Policy:
    """The example policy with a [labels] section (built afresh, so its vocabulary is too)."""
    return Policy.model_validate({**policy.model_dump(),
                                  "labels": {"unknown": unknown, "msip": msip}})


BY_NAME = {"Highly Confidential": "confidential", "General": "internal", "Public": "cleared"}


@pytest.mark.parametrize(("label", "table", "expected"), [
    ("Highly Confidential", BY_NAME, Stamp.CONFIDENTIAL),
    ("highly  CONFIDENTIAL", BY_NAME, Stamp.CONFIDENTIAL),  # cased and spaced differently
    ("Renamed in the portal", {**BY_NAME, "{" + d.GUID.upper() + "}": "internal"},
     Stamp.INTERNAL),  # by the label's id (the GUID), whatever its name says
])
def test_purview_labels_in_office_and_pdf_map_to_stamps(
        policy: Policy, label: str, table: dict[str, str], expected: Stamp) -> None:
    labelled = with_labels(policy, table)
    for name, data in (("a.docx", d.docx(["Text"], label=label)),
                       ("a.pdf", d.pdf([["Text"]], label=label)),
                       ("a.xlsx", d.xlsx(["Text"], label=label)),
                       ("a.odt", d.odt(["Text"], label=label))):
        reading = reading_of(labelled, [(name, data)])
        found = [f for f in reading.embedded if f.source.startswith("label")]
        assert [f.stamp for f in found] == [expected], (name, found)
        assert name in found[0].source and d.GUID in found[0].source


def test_the_msip_labels_header_is_the_mails_own_stamp(policy: Policy) -> None:
    labelled = with_labels(policy, BY_NAME)
    header = (f"MSIP_Label_{d.GUID}_Enabled=True; MSIP_Label_{d.GUID}_SiteId=x; "
              f"MSIP_Label_{d.GUID}_Name=Highly Confidential; "
              f"MSIP_Label_{d.GUID}_Method=Standard")
    reading = reading_of(labelled, [], body="The story.", headers={"msip_labels": header})
    assert reading.stamp is Stamp.CONFIDENTIAL
    assert reading.where == (Location.LABEL,)
    decision = decide(labelled, reading, "alice@example.org", [parse_recipient(PARTNER, "+")])
    assert decision.verdict is Verdict.BOUNCE
    assert any("msip_labels header" in s and "Highly Confidential" in s
               for s in decision.sources)


def test_an_unmapped_label_is_unreadable_unless_the_policy_ignores_it(policy: Policy) -> None:
    data = d.docx(["Text"], label="Partner Secret")
    strict = with_labels(policy, BY_NAME)
    reading = reading_of(strict, [("a.docx", data)], body="The story.")
    assert any("'Partner Secret'" in u and "not mapped" in u for u in reading.unreadable)
    relaxed = with_labels(policy, BY_NAME, "ignore")
    assert reading_of(relaxed, [("a.docx", data)], body="The story.").unreadable == ()


UNREADABLE = [
    ("locked.pdf", d.pdf([["Cleared for publication"]], password="secret"), "encrypted"),
    ("locked.docx", d.encrypted_office(), "encrypted"),
    ("locked.zip", d.zipped({"a.txt": b"Cleared for publication"}, password_flag=True),
     "encrypted"),
    ("locked.odt", d.odt(["Cleared for publication"], encrypted=True), "encrypted"),
    ("bomb.zip", d.zip_bomb(50), "zip bomb"),
    ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog", "corrupt PDF"),
    ("broken.docx", b"PK\x03\x04" + b"\x00" * 40, "corrupt zip"),
    ("fake.pdf", b"just some bytes", "not a valid pdf file"),
    ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "legacy Office"),
    ("entities.docx", d.zip_members({
        "[Content_Types].xml": d.CONTENT_TYPES,
        "word/document.xml": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">'
                             '<!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>'}), "DTD"),
    # An external entity, in UTF-16 (no "<!DOCTYPE" among the bytes), in a footer part.
    ("external.docx", d.zip_members({
        "[Content_Types].xml": d.CONTENT_TYPES,
        "word/document.xml": f'<w:document xmlns:w="{d.W}"><w:body><w:p><w:r><w:t>Cleared '
                             'for publication</w:t></w:r></w:p></w:body></w:document>',
        "word/footer1.xml": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e '
                            'SYSTEM "file:///etc/passwd">]><x>&e;</x>'.encode("utf-16")}),
     "footer1.xml declares entities or a DTD"),
    ("doctype.docx", d.zip_members({
        "[Content_Types].xml": d.CONTENT_TYPES,
        "word/document.xml": "<!DOCTYPE html><x>Cleared for publication</x>"}), "DTD"),
    ("broken-xml.docx", d.zip_members({
        "[Content_Types].xml": d.CONTENT_TYPES,
        "word/document.xml": f'<w:document xmlns:w="{d.W}"><w:body>'}),
     "corrupt XML in word/document.xml"),
]


@pytest.mark.parametrize(("name", "data", "why"), UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_unreadable_attachments_are_held_outside_and_relayed_inside(
        policy: Policy, name: str, data: bytes, why: str) -> None:
    decision = decision_of(policy, [(name, data)])
    assert verdicts(decision) == {BOB: Verdict.ALLOW, PRESS: Verdict.HOLD,
                                  PARTNER: Verdict.HOLD}
    assert "attachment-unreadable" in decision.rules
    held = [r for r in decision.recipients if r.verdict is Verdict.HOLD]
    assert all(f"attachment {name} cannot be read: " in r.reason for r in held)
    assert any(why in reason for reason in decision.reasons), decision.reasons


def test_bounds_turn_into_unreadable_files_not_guesses() -> None:
    small = DocumentLimits(max_bytes=MEGABYTE // 2, max_depth=1, max_entries=3)
    (big,) = read_attachment("big.pdf", d.pdf([["x" * 80]] * 2) + b"\0" * MEGABYTE, small)
    assert big.unreadable == "larger than 0.5 MB"
    deep = d.zipped({"b.zip": d.zipped({"c.zip": d.zipped({"d.txt": b"Internal"})})})
    assert any("nested deeper than 1" in (doc.unreadable or "")
               for doc in read_attachment("a.zip", deep, small))
    many = d.zipped({f"{n}.txt": b"x" for n in range(4)})
    (crowded,) = read_attachment("many.zip", many, small)
    assert crowded.unreadable == "more than 3 entries in one archive"


def test_only_the_first_pages_of_a_pdf_are_read() -> None:
    pages = [["page"]] * 7 + [["Confidential"]]
    (doc,) = read_attachment("long.pdf", d.pdf(pages), DocumentLimits(max_pages=5))
    assert doc.body.count("page") == 5 and "Confidential" not in doc.body


def test_the_register_searches_attachment_text() -> None:
    facts = read_message(d.mail("Cleared for publication\n\nHello.",
                                [("story.docx", d.docx(["Cleared for publication",
                                                        "Amina Haddad lives in Kobani."]))]))
    found = findings_in(facts)
    assert found and all("Amina" not in f.text for f in found)
    assert any("real name" in f.text and "attached document" in f.text for f in found)


SAMPLES = [("a.docx", d.docx(["Internal"], header="x", label="General")),
           ("a.pdf", d.pdf([["Internal"]], {"Title": "t"})), ("a.odt", d.odt(["Internal"])),
           ("a.rtf", d.rtf(["Internal"], header="x", title="t")),
           ("a.zip", d.zipped({"b.docx": d.docx(["Internal"])}))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=st.sampled_from(SAMPLES), cut=st.floats(0, 1),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8))
def test_damaged_files_are_read_or_named_unreadable_never_a_crash(
        sample: tuple[str, bytes], cut: float, flips: list[tuple[float, int]]) -> None:
    name, data = sample
    damaged = bytearray(data[:max(1, int(len(data) * cut))])
    for where, value in flips:
        damaged[min(int(where * len(damaged)), len(damaged) - 1)] = value
    for document in read_attachment(name, bytes(damaged), DEFAULT_LIMITS):
        assert document.name.startswith(name)
        assert document.unreadable is None or document.unreadable.strip()


def test_file_names_in_reasons_carry_no_control_characters(policy: Policy) -> None:
    evil = "report\r\n250 OK\t\x00" + "x" * 200 + ".pdf"
    message = d.mail(CLEARED, [("placeholder.pdf", d.pdf([["Internal"]], password="pw"))])
    message = message.replace(b'filename="placeholder.pdf"',
                              b'filename*=utf-8\'\'' + quote(evil).encode())
    reading = read_stamps(read_message(message), policy.vocabulary)
    (why,) = reading.files
    assert why.startswith("attachment report 250 ok x") and why.endswith(": encrypted")
    assert all(c.isprintable() for c in why) and len(why) < 130
