"""Attached documents over real loopback SMTP: stamps and labels in files, unreadable files."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import documents as d
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess

ALICE, BOB = "alice@example.org", "bob@example.org"
PRESS, PARTNER = "press@example.org", "partner@outside.test"
CLEARED = "Cleared for publication\n\nThe attached story may go out."
SECRET = "Tesfay-7731 lives at the old mill"  # text of a document: never in the logs


def held(gateway: GatewayProcess, hold_id: str) -> dict[str, object]:
    shown = gateway.run_cli("held", "show", hold_id, "--json", "--data", str(gateway.data))
    assert shown.returncode == 0, shown.stderr
    found: dict[str, object] = json.loads(shown.stdout)
    return found


def hold_id_of(reply: str) -> str:
    return reply.split("held for review as ")[1].split()[0]


@pytest.mark.parametrize(("name", "data", "where"), [
    ("story.docx", d.docx(["Internal", SECRET]), "story.docx, first line"),
    ("scan.pdf", d.pdf([[SECRET, "Internal"]]), "scan.pdf, header or footer"),
    ("letter.rtf", d.rtf([SECRET], title="Internal"), "letter.rtf, title or subject"),
    ("notes.odt", d.odt(["Internal", SECRET]), "notes.odt, first line"),
    ("cases.zip", d.zipped({"2026/story.docx": d.docx([SECRET], header="Internal")}),
     "cases.zip/2026/story.docx, header or footer"),
])
def test_a_stamped_document_under_a_cleared_mail_is_held_outside(
        gateway: GatewayProcess, downstream: Downstream, name: str, data: bytes,
        where: str) -> None:
    code, reply = gateway.send(ALICE, [BOB, PRESS, PARTNER], d.mail(CLEARED, [(name, data)]))
    assert code == 250, reply
    assert "held for review as" in reply
    assert [m.recipients for m in downstream.wait_for(1)] == [[BOB]]
    record = held(gateway, hold_id_of(reply))
    assert set(record["held_recipients"]) == {PRESS, PARTNER}  # type: ignore[arg-type]
    assert where in json.dumps(record)
    assert SECRET not in gateway.log()


def test_an_encrypted_pdf_is_held_outside_and_relayed_inside(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    locked = d.pdf([["Cleared for publication"]], password="s3cret")
    code, reply = gateway.send(ALICE, [BOB, PARTNER], d.mail(CLEARED, [("locked.pdf", locked)]))
    assert code == 250, reply
    assert [m.recipients for m in downstream.wait_for(1)] == [[BOB]]
    record = json.dumps(held(gateway, hold_id_of(reply)))
    assert "attachment locked.pdf cannot be read: encrypted" in record
    assert "attachment-unreadable" in record


def test_a_zip_bomb_is_refused_unopened_and_the_gateway_carries_on(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    code, reply = gateway.send(ALICE, [PRESS], d.mail(CLEARED, [("photos.zip", d.zip_bomb(200))]))
    assert code == 250, reply
    assert "held for review as" in reply
    assert "zip bomb" in json.dumps(held(gateway, hold_id_of(reply)))
    code, reply = gateway.send(ALICE, [PRESS], d.mail(CLEARED, []))
    assert (code, "held" in reply) == (250, False)
    assert downstream.wait_for(1)[0].recipients == [PRESS]


def test_the_msip_labels_header_bounces_like_a_stamp(gateway: GatewayProcess,
                                                    downstream: Downstream) -> None:
    header = (f"MSIP_Label_{d.GUID}_Enabled=True; MSIP_Label_{d.GUID}_SiteId={d.GUID};\r\n "
              f"MSIP_Label_{d.GUID}_Name=Highly Confidential")
    folded = f"msip_labels: {header}\r\nSubject:".encode()  # folded, as Outlook writes it
    data = d.mail("The story.", []).replace(b"Subject:", folded, 1)
    code, reply = gateway.send(ALICE, [PARTNER], data)
    assert code == 550, reply
    assert PARTNER in reply and "Confidential" in reply
    assert downstream.messages == []


def test_a_labelled_office_file_counts_like_its_label(gateway: GatewayProcess,
                                                      downstream: Downstream) -> None:
    data = d.docx(["Figures"], label="General")
    code, reply = gateway.send(ALICE, [BOB, PRESS], d.mail(CLEARED, [("budget.docx", data)]))
    assert code == 250, reply
    hold_id = hold_id_of(reply)
    record = json.dumps(held(gateway, hold_id))
    assert "label 'General'" in record and "budget.docx" in record
    shown = gateway.run_cli("held", "show", hold_id, "--data", str(gateway.data))
    assert f"read from: Internal: label 'General' ({d.GUID}) in budget.docx" in shown.stdout


def test_a_large_message_is_read_in_the_reader_process_with_its_attachments(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    filler = [f"Paragraph {n} of the annual report. " * 8 for n in range(3000)]
    big = d.docx(["Internal", *filler])
    report = d.pdf([["Annual report"], ["page two"]])
    data = d.mail(CLEARED, [("report.pdf", report), ("annex.docx", big),
                            ("padding.bin", b"\x00" * 600_000)])
    assert len(data) > 500_000  # read off the event loop (over the 128 KiB inline limit)
    code, reply = gateway.send(ALICE, [BOB, PARTNER], data)
    assert code == 250, reply
    assert "annex.docx, first line" in json.dumps(held(gateway, hold_id_of(reply)))


@pytest.fixture(scope="module")
def strict_gateway(tmp_path_factory: pytest.TempPathFactory,
                   downstream: Downstream) -> Iterator[GatewayProcess]:
    """A gateway that reads attachments of at most 0.1 MB and one PDF page."""
    workdir: Path = tmp_path_factory.mktemp("strict")
    process = GatewayProcess(workdir, downstream.url, config={
        "attachment_megabytes": 0.1, "attachment_pages": 1}).start()
    yield process
    process.stop()


def test_settings_bound_the_readers_and_an_overrun_fails_closed_outside(
        strict_gateway: GatewayProcess, downstream: Downstream) -> None:
    large = d.docx(["Cleared for publication", secrets.token_hex(150_000)])
    assert len(large) > 120_000
    code, reply = strict_gateway.send(ALICE, [BOB, PARTNER],
                                      d.mail(CLEARED, [("large.docx", large)]))
    assert code == 250, reply
    assert [m.recipients for m in downstream.wait_for(1)] == [[BOB]]
    assert "large.docx cannot be read: larger than 0.1 MB" in json.dumps(
        held(strict_gateway, hold_id_of(reply)))
    downstream.clear()
    two_pages = d.pdf([["Cleared for publication"], ["Confidential"]])
    code, reply = strict_gateway.send(ALICE, [PARTNER],
                                      d.mail(CLEARED, [("two.pdf", two_pages)]))
    assert (code, "held" in reply) == (250, False)  # page two is past the bound


def test_documents_that_cannot_change_a_verdict_are_left_unread(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    """Confidential to a colleague: no document can make it stricter, so the PDF is not
    parsed (the log line counts it unread); Cleared to the same colleague: it is read, and
    its Confidential first line holds the colleague for approval."""
    report = ("report.pdf", d.pdf([["Confidential", SECRET]]))
    code, reply = gateway.send(ALICE, [BOB], d.mail("Confidential\n\nThe case file.", [report]))
    assert (code, "held" in reply) == (250, False), reply
    assert [m.recipients for m in downstream.wait_for(1)] == [[BOB]]
    code, reply = gateway.send(ALICE, [BOB], d.mail(CLEARED, [report]))
    assert code == 250 and "held for review as" in reply, reply
    assert "report.pdf, first line" in json.dumps(held(gateway, hold_id_of(reply)))
    lines = gateway.log_events("message")
    assert [(e["stamp"], e["documents_unread"]) for e in lines[-2:]] == [
        ("confidential", 1), ("cleared", 0)]
    assert SECRET not in gateway.log() and "report.pdf" not in gateway.log()
