"""The register over real SMTP: holds what it must, and no registered value is left at rest,
in a backup, in the logs or in the notices."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.adapters.crypto import new_master_key
from tests.support import documents
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message
from tests.support.review_gateway import FAST, HOLD_ID, add_reviewer, cli

SENDER = "alice@example.org"
COLLEAGUE = "bob@example.org"
COMMS = "press@example.org"
OUTSIDE = "journalist@news.test"
CSV = ("pseudonym,names,hometown,job,origin,withhold,resettled,share_only_after_resettlement\n"
       "John,Amina Haddad;Umm Yusuf,Kobani,pharmacist,Syria,Sednaya prison,no,yes\n"
       "Sara,محمد حداد,Bakhmut,tram driver,,,yes,yes\n")
VALUES = ("Amina Haddad", "Umm Yusuf", "Kobani", "pharmacist", "Syria", "Sednaya prison",
          "محمد حداد", "Bakhmut", "tram driver")


def forms(value: str) -> list[bytes]:
    """The ways a value could sit in a file: as written, folded, encoded for mail."""
    out: set[bytes] = set()
    for text in (value, value.lower(), value.upper()):
        out.add(text.encode())
        out.add(text.encode("utf-16-le"))
        for word in text.split():
            if len(word) > 3:
                out.add(word.encode())
    return sorted(out)


def holding(value: bytes, blob: bytes) -> bool:
    return value.lower() in blob.lower()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("register")
    # Held bodies sealed, as in production: what is held is encrypted, the register hashed.
    config = {**FAST, "log_level": "debug", "held_encryption_key": new_master_key()}
    process = GatewayProcess(workdir, downstream.url, config=config)
    imported = cli(process, "clients", "import", "-", "--data", str(process.data), stdin=CSV)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "imported: 2 added, 0 updated"
    add_reviewer(process)
    process.start()
    yield process
    process.stop()


def send(gateway: GatewayProcess, recipient: str, body: str,
         subject: str = "Story") -> tuple[int, str]:
    return gateway.send(SENDER, [recipient], message(body, subject=subject, to=recipient))


def test_held_for_communications_and_outside_not_inside(gateway: GatewayProcess,
                                                        downstream: Downstream) -> None:
    downstream.clear()
    code, reply = send(gateway, COMMS, "Cleared for publication\n\nWe met Amina\nHaddad.")
    assert code == 250 and HOLD_ID.search(reply), reply
    assert "Amina" not in reply and "Haddad" not in reply
    code, reply = send(gateway, OUTSIDE, "Cleared for publication\n\nJohn grew up in Kobani.")
    assert code == 250 and HOLD_ID.search(reply), reply
    code, reply = send(gateway, OUTSIDE, "Cleared for publication\n\nMuhammad Hadad's story.",
                       subject="Cleared for publication")
    assert code == 250 and HOLD_ID.search(reply), reply
    # Colleagues may know the client: relayed as it is.
    code, reply = send(gateway, COLLEAGUE, "Cleared for publication\n\nAmina Haddad called.")
    assert code == 250 and not HOLD_ID.search(reply), reply
    relayed = downstream.wait_for(1)
    assert any(b"Amina Haddad" in m.data for m in relayed)  # the grep below can see values


def test_held_show_names_field_pseudonym_and_place(gateway: GatewayProcess) -> None:
    code, reply = send(gateway, COMMS, "Cleared for publication\n\nSee subject.",
                       subject="Umm Yusuf, a pharmacist")
    match = HOLD_ID.search(reply)
    assert code == 250 and match, reply
    shown = cli(gateway, "held", "show", match.group(1), "--data", str(gateway.data))
    assert shown.returncode == 0, shown.stderr
    assert "protected client: mentions the real name of client John (subject)" in shown.stdout
    assert "pharmacist" not in shown.stdout and "Yusuf" not in shown.stdout
    released = cli(gateway, "held", "release", match.group(1), "--by", "director@example.org",
                   "--data", str(gateway.data))
    assert released.returncode == 0, released.stderr


def test_clients_list_shows_fields_not_values(gateway: GatewayProcess) -> None:
    listed = cli(gateway, "clients", "list", "--data", str(gateway.data))
    assert listed.returncode == 0, listed.stderr
    assert ("John: fields set: names, hometown, job, origin, withhold; resettled: no; "
            "share only after resettlement: yes") in listed.stdout
    for value in VALUES:
        assert value not in listed.stdout


def test_no_registered_value_at_rest_in_backups_logs_or_notices(
        gateway: GatewayProcess, downstream: Downstream, tmp_path: Path) -> None:
    code, reply = send(gateway, OUTSIDE, "Cleared for publication\n\nJohn, a pharmacist from "
                       "Kobani (Syria), spent a year in Sednaya prison.",
                       subject="Amina Haddad and Muhammad Hadad from Bakhmut")
    assert code == 250 and HOLD_ID.search(reply), reply
    deadline = time.monotonic() + 20
    # Hold notices go out through the outbox: wait (bounded) until reviewers were told.
    while time.monotonic() < deadline and not any(
            "director@example.org" in m.recipients for m in downstream.messages):
        time.sleep(0.1)
    notices = [m.data for m in downstream.messages if "director@example.org" in m.recipients
               or SENDER in m.recipients]
    assert notices, "no notice was sent"
    backups = tmp_path / "backups"
    backups.mkdir()
    done = cli(gateway, "backup", str(backups), "--data", str(gateway.data))
    assert done.returncode == 0, done.stderr
    files = [p for p in gateway.data.rglob("*") if p.is_file()]
    files += [*(p for p in backups.rglob("*") if p.is_file()), gateway.log_path]
    blobs = {str(p): p.read_bytes() for p in files}
    blobs.update({f"notice {i}": data for i, data in enumerate(notices)})
    assert any(re.search(rb"register_hashes", b) for b in blobs.values())
    for value in VALUES:
        for form in forms(value):
            found = [name for name, blob in blobs.items() if holding(form, blob)]
            assert not found, (value, form, found)


def test_the_key_file_is_private(gateway: GatewayProcess) -> None:
    key = gateway.data / "held-keys" / "register.secret"
    assert key.stat().st_mode & 0o777 == 0o600
    assert len(key.read_bytes()) == 32
    assert subprocess.run(["test", "-s", str(key)]).returncode == 0


def test_a_real_name_in_an_attached_document_is_held_for_communications(
        gateway: GatewayProcess) -> None:
    story = documents.docx(["Cleared for publication", "We met Amina Haddad in May."])
    data = documents.mail("Cleared for publication\n\nThe story is attached.",
                          [("story.docx", story)], to=COMMS)
    code, reply = gateway.send(SENDER, [COMMS], data)
    match = HOLD_ID.search(reply)
    assert code == 250 and match, reply
    shown = cli(gateway, "held", "show", match.group(1), "--data", str(gateway.data))
    assert "mentions the real name of client John (attached document)" in shown.stdout
    assert "Amina" not in shown.stdout and "Amina" not in gateway.log()


def test_the_register_is_not_searched_for_colleagues_only(gateway: GatewayProcess,
                                                          downstream: Downstream) -> None:
    """The register holds mail for communications and outside only; mail to colleagues
    alone is not searched (no register rule in its log line), mail to the press is."""
    downstream.clear()
    code, reply = send(gateway, COLLEAGUE, "Cleared for publication\n\nAmina Haddad called.")
    assert code == 250 and not HOLD_ID.search(reply), reply
    code, reply = send(gateway, COMMS, "Cleared for publication\n\nAmina Haddad called.")
    assert code == 250 and HOLD_ID.search(reply), reply
    lines = gateway.log_events("message")[-2:]
    assert [("register" in e["rules"], e["verdicts"]) for e in lines] == [
        (False, {COLLEAGUE: "allow"}), (True, {COMMS: "hold"})]


def test_a_client_added_while_running_is_held_by_every_worker(tmp_path: Path,
                                                              downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url, config={**FAST, "workers": 2})
    add_reviewer(process)
    process.start()
    try:
        body = "Cleared for publication\n\nWe met Amina Haddad."
        code, reply = send(process, COMMS, body)
        assert code == 250 and not HOLD_ID.search(reply), reply  # nobody registered yet
        imported = cli(process, "clients", "import", "-", "--data", str(process.data),
                       stdin=CSV)
        assert imported.returncode == 0, imported.stderr
        time.sleep(1.5)  # each worker looks at the register's generation once a second
        # A new connection each: both workers accept on the one listening socket.
        for _ in range(8):
            code, reply = send(process, COMMS, body)
            assert code == 250 and HOLD_ID.search(reply), reply
    finally:
        process.stop()
