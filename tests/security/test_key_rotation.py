"""Rotating the master key of held bodies: old keys open, ``stampgate keys rotate`` re-wraps
every key in the store (and first moves in the key files an older gateway left)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.adapters import crypto, key_files
from gateway.adapters.crypto import (
    BodySealer,
    KeyDestroyed,
    NullSealer,
    SealError,
    new_master_key,
    parse_master_key,
)
from gateway.settings import Settings, SettingsError, held_sealer, load_settings, master_sealer
from gateway.store import migrate
from gateway.store.direct import transaction
from gateway.store.keys import insert_key, keys_in

BODY = b"Subject: x\r\n\r\nA client story, still held.\r\n"


class Process:
    """The sealer a gateway process builds from its settings, as each test step restarts it,
    and its data directory (whose SQLite file is the store)."""

    sealer: BodySealer = NullSealer()
    data: Path = Path("unset")


PROCESS = Process()


@pytest.fixture(autouse=True)
def _unconfigured() -> Iterator[None]:
    yield
    PROCESS.sealer = NullSealer()


def seal(content: bytes) -> bytes:
    """Seal ``content`` and store its key, as a hold does."""
    sealed = PROCESS.sealer.seal(content)
    assert sealed.key is not None
    with transaction("", PROCESS.data, create=True) as conn:
        migrate.migrate(conn)
        insert_key(conn, sealed.key.key_id, sealed.key.wrapped)
    return sealed.body


def stored_key(blob: bytes) -> bytes | None:
    with transaction("", PROCESS.data) as conn:
        return keys_in(conn, [key_id(blob)]).get(key_id(blob))


def open_sealed(blob: bytes) -> bytes:
    return PROCESS.sealer.open(blob, stored_key(blob))


def destroy_key(blob: bytes) -> bool:
    with transaction("", PROCESS.data) as conn:
        return bool(conn.execute("DELETE FROM held_keys WHERE key_id = ?",
                                 (key_id(blob).hex(),)).rowcount)


@pytest.fixture
def keys() -> tuple[str, str, str]:
    """Three master keys: A (the old one), B (the new one), C (never configured)."""
    return new_master_key(), new_master_key(), new_master_key()


def write_config(tmp_path: Path, current: str | None, *old: str) -> Path:
    lines = [f"data = {json.dumps(str(tmp_path / 'var'))}"]
    if current is not None:
        lines.append(f"held_encryption_key = {json.dumps(current)}")
    if old:
        lines.append(f"held_encryption_old_keys = {json.dumps(list(old))}")
    path = tmp_path / "stampgate.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def configure(tmp_path: Path, current: str | None, *old: str) -> Path:
    """Build the sealer the way every process does: settings file, then ``held_sealer``."""
    path = write_config(tmp_path, current, *old)
    PROCESS.sealer = held_sealer(load_settings(path, {}))
    PROCESS.data = tmp_path / "var"
    return path


def stampgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args],
                          capture_output=True, text=True, timeout=60)


def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "var" / key_files.KEY_DIR


def key_id(blob: bytes) -> bytes:
    found = crypto.sealed_key_id(blob)
    assert found is not None
    return found


def stored(tmp_path: Path) -> dict[str, bytes]:
    """Key id (hex) -> wrapped key, as the store holds them."""
    with transaction("", tmp_path / "var") as conn:
        return {str(r[0]): bytes(r[1]) for r in conn.execute(
            "SELECT key_id, wrapped FROM held_keys")}


def fingerprints(tmp_path: Path) -> dict[str, str]:
    """Key id -> the fingerprint (hex) of the master key that wrapped it."""
    result = {}
    for name, wrapped in stored(tmp_path).items():
        fingerprint = crypto.wrapped_fingerprint(wrapped)
        assert fingerprint is not None
        result[name] = fingerprint.hex()
    return result


def fp(key: str) -> str:
    return crypto.master_key_fingerprint(parse_master_key(key)).hex()


def test_old_key_opens_and_rotation_moves_every_key_to_the_new_key(
        tmp_path: Path, keys: tuple[str, str, str]) -> None:
    a, b, _ = keys
    configure(tmp_path, a)
    sealed = [seal(BODY + bytes([65 + i])) for i in range(3)]
    assert set(fingerprints(tmp_path).values()) == {fp(a)}

    # B is the new key, A an old one: everything still opens, new seals use B.
    config = configure(tmp_path, b, a)
    assert [open_sealed(s) for s in sealed] == [BODY + bytes([65 + i]) for i in range(3)]
    sealed.append(seal(BODY))
    assert sorted(fingerprints(tmp_path).values()) == sorted([fp(a)] * 3 + [fp(b)])

    result = stampgate("keys", "rotate", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "re-wrapped 3, already current 1, unreadable 0" in result.stdout
    assert set(fingerprints(tmp_path).values()) == {fp(b)}

    # B alone: every body opens, and destroying still destroys.
    configure(tmp_path, b)
    assert open_sealed(sealed[0]) == BODY + b"A"
    assert open_sealed(sealed[3]) == BODY
    assert destroy_key(sealed[0]) is True
    with pytest.raises(KeyDestroyed):
        open_sealed(sealed[0])
    # A alone no longer opens what was rotated.
    configure(tmp_path, a)
    with pytest.raises(SealError, match="not configured"):
        open_sealed(sealed[1])


def test_running_rotate_again_changes_nothing(tmp_path: Path,
                                              keys: tuple[str, str, str]) -> None:
    a, b, _ = keys
    configure(tmp_path, a)
    for _ in range(2):
        seal(BODY)
    config = write_config(tmp_path, b, a)
    first = stampgate("keys", "rotate", "--config", str(config))
    assert first.returncode == 0 and "re-wrapped 2, already current 0" in first.stdout
    before = stored(tmp_path)
    again = stampgate("keys", "rotate", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert "re-wrapped 0, already current 2, unreadable 0" in again.stdout
    assert stored(tmp_path) == before  # the same bytes


def test_a_message_under_an_unknown_master_key(tmp_path: Path,
                                               keys: tuple[str, str, str]) -> None:
    a, b, c = keys
    configure(tmp_path, c)
    lost = seal(BODY)
    configure(tmp_path, a)
    kept = seal(BODY)
    original = stored(tmp_path)[key_id(lost).hex()]

    config = configure(tmp_path, b, a)
    assert open_sealed(kept) == BODY
    with pytest.raises(SealError, match=f"another master key, one that is not configured "
                                        f"\\(fingerprint {fp(c)}\\)"):
        open_sealed(lost)

    result = stampgate("keys", "rotate", "--config", str(config))
    assert result.returncode == 1
    assert f"unreadable {key_id(lost).hex()}: " in result.stdout
    assert "not configured" in result.stdout
    assert "re-wrapped 1, already current 0, unreadable 1" in result.stdout
    assert "could not be re-wrapped" in result.stderr
    # Left exactly as it was: with C configured as an old key it still opens.
    assert stored(tmp_path)[key_id(lost).hex()] == original
    configure(tmp_path, b, c)
    assert open_sealed(lost) == BODY
    status = stampgate("keys", "status", "--config", str(write_config(tmp_path, b)))
    assert status.returncode == 0, status.stderr
    assert f"{fp(c)}        1  not configured" in status.stdout


def test_a_damaged_key_is_reported_and_left_alone(tmp_path: Path,
                                                  keys: tuple[str, str, str]) -> None:
    a, b, _ = keys
    configure(tmp_path, a)
    damaged = seal(BODY)
    flipped = bytearray(stored(tmp_path)[key_id(damaged).hex()])
    flipped[-1] ^= 0x01
    with transaction("", tmp_path / "var") as conn:
        conn.execute("UPDATE held_keys SET wrapped = ?", (bytes(flipped),))
    result = stampgate("keys", "rotate", "--config", str(write_config(tmp_path, b, a)))
    assert result.returncode == 1
    assert (f"unreadable {key_id(damaged).hex()}: held message or its key was altered"
            in result.stdout)
    assert stored(tmp_path)[key_id(damaged).hex()] == bytes(flipped)


def test_status_counts_keys_per_master_key(tmp_path: Path,
                                           keys: tuple[str, str, str]) -> None:
    a, b, c = keys
    for key, count in ((a, 2), (b, 1), (c, 1)):
        configure(tmp_path, key)
        for _ in range(count):
            seal(BODY)
    key_dir(tmp_path).mkdir()
    stray = key_dir(tmp_path) / "not-a-key-id.key"
    stray.write_bytes(b"\x01junk")
    config = write_config(tmp_path, b, a)
    result = stampgate("keys", "status", "--config", str(config))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"held-body keys in sqlite:///{tmp_path / 'var' / 'stampgate.sqlite3'}: 4"
    assert lines[1].startswith(f"key files of an older gateway in {key_dir(tmp_path)}: 1")
    assert f"  {fp(b)}        1  current (held_encryption_key)" in lines
    assert f"  {fp(a)}        2  old (held_encryption_old_keys, entry 1)" in lines
    assert f"  {fp(c)}        1  not configured: cannot be read" in lines
    assert f"  {'(damaged)':<16}        1  not a key file stampgate can read" in lines
    assert "still under an old master key: run stampgate keys rotate" in result.stdout

    assert stampgate("keys", "rotate", "--config", str(config)).returncode == 1  # C's key
    after = stampgate("keys", "status", "--config", str(config)).stdout
    assert f"  {fp(a)}        0  old (held_encryption_old_keys, entry 1)" in after
    assert "held_encryption_old_keys can be emptied" in after
    assert "2 key(s) cannot be opened with the configured master keys" in after  # C, stray
    assert stray.read_bytes() == b"\x01junk"  # not ours to remove


def test_rotate_moves_an_older_gateways_key_files_into_the_store(
        tmp_path: Path, keys: tuple[str, str, str]) -> None:
    """Key files of bodies in the store are imported (then destroyed) and re-wrapped; a
    file of a body the store does not hold is left where it is."""
    a, b, _ = keys
    configure(tmp_path, a)
    in_store = seal(BODY)
    sealed = PROCESS.sealer.seal(BODY + b"old")
    assert sealed.key is not None
    key_files.write(key_dir(tmp_path), sealed.key.key_id, sealed.key.wrapped)
    with transaction("", tmp_path / "var") as conn:  # its hold, as an older gateway stored it
        conn.execute("INSERT INTO held_messages (id, queue_id, created_at, state, version, "
                     "sender, recipients, held_recipients, reason, decision, size, content) "
                     "VALUES ('H1', 'Q1', '2026-01-01 00:00:00.000000', 'held', 1, 'a@b', "
                     "'[]', '[]', 'r', '{}', 1, ?)", (sealed.body,))
    elsewhere = PROCESS.sealer.seal(BODY + b"elsewhere")
    assert elsewhere.key is not None
    key_files.write(key_dir(tmp_path), elsewhere.key.key_id, elsewhere.key.wrapped)
    configure(tmp_path, b, a)
    assert open_sealed(sealed.body) == BODY + b"old"  # read from its file meanwhile
    result = stampgate("keys", "rotate", "--config", str(write_config(tmp_path, b, a)))
    assert result.returncode == 0, result.stderr
    assert "re-wrapped 2, already current 0, unreadable 0" in result.stdout
    assert sorted(p.name for p in key_dir(tmp_path).glob("*.key")) == [
        f"{elsewhere.key.key_id.hex()}.key"]
    configure(tmp_path, b)
    assert open_sealed(sealed.body) == BODY + b"old"
    assert open_sealed(in_store) == BODY


def test_destroying_a_key_file_also_removes_a_leftover_temporary_key(
        tmp_path: Path, keys: tuple[str, str, str]) -> None:
    configure(tmp_path, keys[0])
    sealed = PROCESS.sealer.seal(BODY)
    assert sealed.key is not None
    key_files.write(key_dir(tmp_path), sealed.key.key_id, sealed.key.wrapped)
    path = key_files.key_path(key_dir(tmp_path), sealed.key.key_id)
    path.with_suffix(".tmp").write_bytes(path.read_bytes())  # an interrupted re-wrap's
    assert PROCESS.sealer.destroy_file(sealed.key.key_id) is True
    assert list(key_dir(tmp_path).iterdir()) == []
    with pytest.raises(KeyDestroyed):
        PROCESS.sealer.open(sealed.body)


def test_rotation_while_messages_are_read_and_destroyed(tmp_path: Path,
                                                        keys: tuple[str, str, str]) -> None:
    """Readers always find a whole key; a key destroyed meanwhile never comes back."""
    a, b, _ = keys
    configure(tmp_path, a)
    sealed = [seal(BODY + str(i).encode()) for i in range(150)]
    config = configure(tmp_path, b, a)
    doomed, kept = sealed[::3], [s for i, s in enumerate(sealed) if i % 3]
    failures: list[str] = []

    def read() -> None:
        for _ in range(3):
            for i, blob in enumerate(sealed):
                if i % 3:
                    try:
                        assert open_sealed(blob) == BODY + str(i).encode()
                    except (SealError, AssertionError) as exc:
                        failures.append(repr(exc))

    def destroy() -> None:
        for blob in doomed:
            destroy_key(blob)

    threads = [threading.Thread(target=read), threading.Thread(target=destroy)]
    for thread in threads:
        thread.start()
    result = stampgate("keys", "rotate", "--config", str(config))
    for thread in threads:
        thread.join()
    assert result.returncode == 0, result.stderr
    assert failures == []
    assert len(stored(tmp_path)) == len(kept)
    configure(tmp_path, b)
    for blob in doomed:
        with pytest.raises(KeyDestroyed):
            open_sealed(blob)
    assert all(open_sealed(blob).startswith(BODY) for blob in kept)


@pytest.mark.parametrize(("old", "message"), [
    (["c2VjcmV0"], "entry 1 of 1 must be 32 bytes in base64, not 6 bytes"),
    (["GOOD", "!!!"], "entry 2 of 2 must be 32 bytes in base64"),
    (["GOOD", 7], "entry 2 of 2 must be a string"),
])
def test_a_bad_old_key_is_a_clear_settings_error(tmp_path: Path, keys: tuple[str, str, str],
                                                 old: list[object], message: str) -> None:
    entries = [keys[0] if entry == "GOOD" else entry for entry in old]
    path = tmp_path / "stampgate.toml"
    path.write_text(f"held_encryption_key = {json.dumps(keys[1])}\n"
                    f"held_encryption_old_keys = {json.dumps(entries)}\n")
    with pytest.raises(SettingsError, match="setting held_encryption_old_keys: ") as caught:
        load_settings(path, {})
    assert message in str(caught.value)
    for secret in (keys[0], keys[1], "c2VjcmV0"):
        assert secret not in str(caught.value)  # secrets are never echoed


def test_old_keys_without_a_current_key_are_refused(tmp_path: Path,
                                                    keys: tuple[str, str, str]) -> None:
    config = write_config(tmp_path, None, keys[0])
    with pytest.raises(SettingsError, match="held_encryption_old_keys: needs held_encryption_key"):
        load_settings(config, {})
    result = stampgate("keys", "status", "--config", str(config))
    assert result.returncode == 2
    assert "needs held_encryption_key" in result.stderr and keys[0] not in result.stderr
    unchecked = Settings.model_construct(data=tmp_path, held_encryption_key=None,
                                         held_encryption_old_keys=(SecretStr(keys[0]),))
    with pytest.raises(ValueError, match="needs held_encryption_key"):
        master_sealer(unchecked)


def test_old_keys_are_secret_and_may_be_one_string(tmp_path: Path,
                                                   keys: tuple[str, str, str]) -> None:
    a, b, c = keys
    path = tmp_path / "stampgate.toml"
    path.write_text(f'held_encryption_key = "{b}"\nheld_encryption_old_keys = "{a}, {c}"\n')
    settings = load_settings(path, {})
    assert [s.get_secret_value() for s in settings.held_encryption_old_keys] == [a, c]
    assert a not in repr(settings) and a not in str(settings)


def test_rotate_without_a_current_key_is_a_usage_error(tmp_path: Path) -> None:
    result = stampgate("keys", "rotate", "--config", str(write_config(tmp_path, None)))
    assert result.returncode == 2
    assert "keys rotate needs held_encryption_key" in result.stderr
