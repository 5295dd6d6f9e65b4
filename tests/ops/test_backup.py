"""``stampgate backup`` / ``restore``: consistent online copies, refused over a running gateway."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import stat
import threading
from pathlib import Path

from tests.support.downstream import Downstream, Mode
from tests.support.gateway import GatewayProcess, message
from tests.support.partners import partner_policies

ALICE = "alice@example.org"
PARTNER = "partner@outside.test"
BOB = "bob@example.org"
PARTNER_AT_UNHCR = "ana@unhcr.test"  # a partner's: its copy carries its labels
HOLD = "Needs adjustment: blur face\n\nA client story."


def held_ids(process: GatewayProcess) -> set[str]:
    result = process.run_cli("held", "list", "--json", "--data", str(process.data))
    assert result.returncode == 0, result.stderr
    return {h["id"] for h in json.loads(result.stdout)}


def hold_one(process: GatewayProcess) -> str:
    code, reply = process.send(ALICE, [PARTNER], message(HOLD, to=PARTNER))
    assert code == 250, reply
    return reply.split("held for review as ")[1].split()[0]


def test_backup_while_holding_then_restore_after_stop(tmp_path: Path,
                                                      downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url).start()
    try:
        before = {hold_one(process) for _ in range(3)}
        # keep the gateway writing while the copy is made
        stop = threading.Event()
        during: list[str] = []

        def keep_holding() -> None:
            for _ in range(200):
                if stop.is_set():
                    return
                during.append(hold_one(process))

        writer = threading.Thread(target=keep_holding)
        writer.start()
        try:
            copy = tmp_path / "backups"
            copy.mkdir()
            result = process.run_cli("backup", str(copy), "--data", str(process.data))
        finally:
            stop.set()
            writer.join(60)
        assert result.returncode == 0, result.stderr
        assert "integrity ok" in result.stdout
        [saved] = list(copy.iterdir())
        assert saved.name.startswith("stampgate-") and saved.is_dir()
        assert stat.S_IMODE(saved.stat().st_mode) == 0o700
        assert stat.S_IMODE((saved / "stampgate.sqlite3").stat().st_mode) == 0o600
        with sqlite3.connect(saved / "stampgate.sqlite3") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            in_copy = {r[0] for r in conn.execute("SELECT id FROM held_messages")}
        assert before <= in_copy
        assert in_copy <= before | set(during)

        # a hold made after the backup is gone once the backup is restored
        later = hold_one(process)
        refused = process.run_cli("restore", str(saved), "--data", str(process.data))
        assert refused.returncode == 1
        assert "a gateway is running" in refused.stderr
        process.stop()

        restored = process.run_cli("restore", str(saved), "--data", str(process.data))
        assert restored.returncode == 0, restored.stderr
        assert "previous data is kept as" in restored.stdout
        kept = list(process.data.glob("before-restore-*"))
        assert len(kept) == 1
        with sqlite3.connect(kept[0] / "stampgate.sqlite3") as conn:
            assert (later,) in conn.execute("SELECT id FROM held_messages").fetchall()
        process.start()
        ids = held_ids(process)
        assert ids == in_copy
        assert later not in ids
        hold_one(process)  # the restored store takes new holds
    finally:
        process.stop()


def test_a_restored_store_still_knows_whose_copies_went(tmp_path: Path,
                                                         downstream: Downstream) -> None:
    """The colleague's copy went, the partner's failed for now; the store is backed up, then
    lost, then restored: the client's retry still sends the partner's copy alone."""
    partner_policies(tmp_path / "policies")
    process = GatewayProcess(tmp_path, downstream.url).start()
    data = message("Internal\n\nThe audit.", to=f"{BOB}, {PARTNER_AT_UNHCR}")
    try:
        downstream.script(Mode.ACCEPT, Mode.TEMPFAIL)
        code, reply = process.send(ALICE, [BOB, PARTNER_AT_UNHCR], data)
        assert code == 451 and f"Delivered already to <{BOB}>" in reply, reply
        saved = tmp_path / "saved"
        assert process.run_cli("backup", str(saved), "--data", str(process.data)).returncode == 0
        process.stop()
        with sqlite3.connect(process.data / "stampgate.sqlite3") as conn:
            conn.execute("DELETE FROM accepted")  # the store is lost
        restored = process.run_cli("restore", str(saved), "--data", str(process.data))
        assert restored.returncode == 0, restored.stderr
        process.start()
        code, reply = process.send(ALICE, [BOB, PARTNER_AT_UNHCR], data)
        assert code == 250, reply
        assert [copy.recipients for copy in downstream.messages] == [[BOB], [PARTNER_AT_UNHCR]]
    finally:
        process.stop()


def test_restore_with_force_under_a_running_gateway(tmp_path: Path,
                                                    downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url).start()
    try:
        first = hold_one(process)
        saved = tmp_path / "one"
        assert process.run_cli("backup", str(saved), "--data", str(process.data)).returncode == 0
        second = hold_one(process)
        forced = process.run_cli("restore", str(saved), "--force", "--data", str(process.data))
        assert forced.returncode == 0, forced.stderr
        assert held_ids(process) == {first}
        assert second not in held_ids(process)
        hold_one(process)  # the running gateway keeps working on the restored store
    finally:
        process.stop()


def test_restore_refuses_a_damaged_or_foreign_file(tmp_path: Path,
                                                  downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url).start()
    try:
        hold_one(process)
        saved = tmp_path / "good"
        assert process.run_cli("backup", str(saved), "--data", str(process.data)).returncode == 0
        again = process.run_cli("backup", str(saved / "manifest.json"),
                                "--data", str(process.data))
        assert again.returncode == 1 and "exists and is not a directory" in again.stderr
    finally:
        process.stop()

    def variant(name: str, store: bytes | None, *, checksum: bool) -> Path:
        """A copy of the good backup with another store file, its checksum updated or not."""
        bad = tmp_path / name
        shutil.copytree(saved, bad)
        if store is not None:
            (bad / "stampgate.sqlite3").write_bytes(store)
        if checksum:
            manifest = json.loads((bad / "manifest.json").read_text())
            manifest["files"]["stampgate.sqlite3"]["sha256"] = hashlib.sha256(
                (bad / "stampgate.sqlite3").read_bytes()).hexdigest()
            (bad / "manifest.json").write_text(json.dumps(manifest))
        return bad

    raw = bytearray((saved / "stampgate.sqlite3").read_bytes())
    for page in range(1, len(raw) // 4096):  # scribble over every b-tree page header
        raw[page * 4096:page * 4096 + 12] = b"\x0d" + b"\xff" * 11
    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    no_manifest = variant("no-manifest", None, checksum=False)
    (no_manifest / "manifest.json").unlink()
    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    for bad, why in ((variant("damaged", bytes(raw), checksum=True), ""),
                     (variant("scribbled", bytes(raw), checksum=False),
                      "does not match its checksum"),
                     (variant("foreign", foreign.read_bytes(), checksum=True),
                      "not a stampgate store"),
                     (variant("text", b"not a database", checksum=True),
                      "not a readable SQLite database"),
                     (no_manifest, "no manifest.json"),
                     (text, "is a file, not a backup"),
                     (tmp_path / "missing", "no such backup directory")):
        result = process.run_cli("restore", str(bad), "--data", str(process.data))
        assert result.returncode == 1, (bad, result.stdout)
        assert why in result.stderr, result.stderr
    assert held_ids(process)  # the store was left as it was
