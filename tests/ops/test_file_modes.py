"""Every file the gateway makes is private (0600 in a 0700 directory); held bodies encrypted."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from gateway.adapters.crypto import MAGIC
from tests.support.downstream import Downstream
from tests.support.review_gateway import add_reviewer, cli, review_gateway, send_held


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def stored_bodies(data: Path) -> list[bytes]:
    with sqlite3.connect(data / "stampgate.sqlite3") as conn:
        return [bytes(row[0]) for row in conn.execute("SELECT content FROM held_messages")]


def test_files_are_private_and_the_master_key_is_generated_once(
        tmp_path: Path, downstream: Downstream) -> None:
    outbox = tmp_path / "var" / "outbox"
    gateway = review_gateway(tmp_path, downstream, notify_mode="off")
    gateway.downstream_url = f"maildir:{outbox}"
    gateway.data.mkdir(mode=0o755)
    os.chmod(gateway.data, 0o755)  # made by hand, world-readable: tightened at start
    gateway.start()
    try:
        add_reviewer(gateway)
        added = cli(gateway, "users", "add", "dora@example.org", "--password-stdin",
                    stdin="a long enough passphrase\n")
        assert added.returncode == 0, added.stderr
        send_held(gateway, recipients=("partner@outside.test",))
        code, reply = gateway.send("alice@example.org", ["bob@example.org"],
                                   b"Subject: x\r\n\r\nPUBLIC\r\n\r\nhello\r\n")
        assert code == 250, reply
        data = gateway.data
        assert mode(data) == 0o700
        files = ["stampgate.sqlite3", "stampgate.sqlite3-wal", "stampgate.sqlite3-shm",
                 "master.key", "reviewers.json", "users.json", "stampgate.lock"]
        for name in files:
            assert mode(data / name) == 0o600, name
        assert mode(data / "held-keys") == 0o700
        keys = list((data / "held-keys").iterdir())
        assert keys and all(mode(key) == 0o600 for key in keys)
        delivered = list((outbox / "new").iterdir())
        assert delivered and all(mode(path) & 0o007 == 0 for path in delivered)
        [body] = stored_bodies(data)
        assert body.startswith(MAGIC) and b"Amira" not in body  # encrypted by default
    finally:
        gateway.stop()
    log = gateway.log()
    assert log.count("master-key-generated") == 1
    assert f"new master key in {(data / 'master.key').resolve()}" in log
    assert "Back it up separately" in log
    key = (data / "master.key").read_bytes()
    gateway.start()  # a restart keeps the key and says nothing more about it
    gateway.stop()
    assert (data / "master.key").read_bytes() == key
    assert gateway.log().count("master-key-generated") == 1


def test_an_old_world_readable_store_is_tightened(tmp_path: Path,
                                                  downstream: Downstream) -> None:
    gateway = review_gateway(tmp_path, downstream, notify_mode="off").start()
    gateway.stop()
    os.chmod(gateway.data / "stampgate.sqlite3", 0o644)
    gateway.start()
    try:
        assert mode(gateway.data / "stampgate.sqlite3") == 0o600
        assert "data-made-private" in gateway.log()
    finally:
        gateway.stop()


def test_encryption_can_be_turned_off_explicitly(tmp_path: Path,
                                                 downstream: Downstream) -> None:
    gateway = review_gateway(tmp_path, downstream, notify_mode="off",
                             held_encryption_key="").start()
    try:
        send_held(gateway, recipients=("partner@outside.test",))
        assert not (gateway.data / "master.key").exists()
        [body] = stored_bodies(gateway.data)
        assert b"Amira crossed the border in March." in body
        assert mode(gateway.data / "stampgate.sqlite3") == 0o600
    finally:
        gateway.stop()
    refused = cli(gateway, "backup", str(tmp_path / "b"), "--include-master-key",
                  str(tmp_path / "k"), "--config", str(tmp_path / "stampgate.toml"))
    assert refused.returncode == 1 and "encryption off" in refused.stderr
    assert not (tmp_path / "b").exists() and not (tmp_path / "k").exists()
