"""Backup, wipe the data directory, restore: held bodies, reviewers, users and sessions are back."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import stat
from pathlib import Path

import httpx

from gateway.adapters.accounts import Accounts
from gateway.service.backups import digest
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess
from tests.support.review_gateway import (
    PASSWORD,
    add_reviewer,
    cli,
    review_gateway,
    send_held,
    wait_for,
)

PARTNER = "partner@outside.test"
BODY = "Amira crossed the border in March."
USER = "dora@example.org"
USER_PASSWORD = "a long enough passphrase"


def log_in(gateway: GatewayProcess, client: httpx.Client) -> httpx.Response:
    page = client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return client.post("/login", data={"csrf": found.group(1), "login": "director@example.org",
                                       "password": PASSWORD})


def held_states(gateway: GatewayProcess) -> dict[str, str]:
    listed = cli(gateway, "held", "list", "--json", "--state", "all")
    assert listed.returncode == 0, listed.stderr
    return {row["id"]: row["state"] for row in json.loads(listed.stdout)}


def test_backup_wipe_restore_then_release_and_log_in(tmp_path: Path,
                                                     downstream: Downstream) -> None:
    gateway = review_gateway(tmp_path, downstream, notify_mode="off").start()
    backups = tmp_path / "backups"
    backups.mkdir()
    master = tmp_path / "offsite" / "master.key"
    master.parent.mkdir()
    try:
        add_reviewer(gateway)
        added = cli(gateway, "users", "add", USER, "--password-stdin", stdin=USER_PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        hold_id = send_held(gateway, recipients=(PARTNER,))
        web = f"http://127.0.0.1:{gateway.web_port}"
        with httpx.Client(base_url=web) as client:
            assert log_in(gateway, client).status_code == 303
            cookies = dict(client.cookies)
        made = cli(gateway, "backup", str(backups), "--include-master-key", str(master))
        assert made.returncode == 0, made.stderr
        assert "1 held-body key(s)" in made.stdout
        assert f"master key written to {master}" in made.stdout
        assert stat.S_IMODE(master.stat().st_mode) == 0o600
        [bundle] = backups.iterdir()
        names = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
        assert {"manifest.json", "stampgate.sqlite3", "reviewers.json", "users.json",
                "web-session.key"} <= names
        assert "master.key" not in names  # only ever in the separate file
        assert [n for n in names if n.endswith(".key") and n.startswith("held-keys/")] == []
    finally:
        gateway.stop()

    shutil.rmtree(gateway.data)
    refused = cli(gateway, "restore", str(bundle))  # without the master key nothing opens
    assert refused.returncode == 1
    assert "cannot be opened" in refused.stderr and "--master-key" in refused.stderr
    assert not (gateway.data / "stampgate.sqlite3").exists()

    restored = cli(gateway, "restore", str(bundle), "--master-key", str(master))
    assert restored.returncode == 0, restored.stderr
    assert "1 of 1 encrypted bodies open with the restored keys" in restored.stdout
    assert (gateway.data / "master.key").read_bytes() == master.read_bytes()

    gateway.start()
    try:
        assert held_states(gateway) == {hold_id: "held"}
        released = cli(gateway, "held", "release", hold_id, "--by", "director@example.org",
                       "--adjustments-done")
        assert released.returncode == 0, released.stderr
        [delivered] = wait_for(downstream, PARTNER)
        assert BODY.encode() in delivered.data
        with httpx.Client(base_url=web) as client:
            assert log_in(gateway, client).status_code == 303
        with httpx.Client(base_url=web, cookies=cookies) as client:
            # the session made before the wipe: the restored session key still signs it
            assert client.get("/").status_code == 200
        account = Accounts(gateway.data / "users.json").verify(USER, USER_PASSWORD)
        assert account is not None and account.login == USER
        listed = cli(gateway, "reviewers", "list")
        assert "director@example.org" in listed.stdout
    finally:
        gateway.stop()


def test_a_backup_missing_a_key_says_so_and_changes_nothing(
        tmp_path: Path, downstream: Downstream) -> None:
    gateway = review_gateway(tmp_path, downstream, notify_mode="off").start()
    try:
        first = send_held(gateway, recipients=(PARTNER,))
        bundle = tmp_path / "nightly"
        assert cli(gateway, "backup", str(bundle)).returncode == 0
        second = send_held(gateway, recipients=(PARTNER,))
    finally:
        gateway.stop()
    # The key of the first hold taken out of the backup's store, its checksum made to match.
    copy = bundle / "stampgate.sqlite3"
    with sqlite3.connect(copy) as db:
        assert db.execute("DELETE FROM held_keys").rowcount == 1
    sqlite3.connect(copy).close()
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["stampgate.sqlite3"] = {"sha256": digest(copy), "size": copy.stat().st_size}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    before = sorted(p.name for p in gateway.data.iterdir())
    refused = cli(gateway, "restore", str(bundle))
    assert refused.returncode == 1
    assert f"key missing from this backup for held message(s) {first}" in refused.stderr, \
        refused.stderr
    assert sorted(p.name for p in gateway.data.iterdir()) == before
    gateway.start()
    try:
        assert held_states(gateway) == {first: "held", second: "held"}
    finally:
        gateway.stop()
