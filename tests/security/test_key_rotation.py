"""Rotating the master key of held bodies: old keys open, ``stampgate keys rotate`` re-wraps."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.adapters import crypto
from gateway.adapters.crypto import (
    BodySealer,
    KeyDestroyed,
    NullSealer,
    Sealer,
    SealError,
    new_master_key,
    parse_master_key,
)
from gateway.settings import Settings, SettingsError, held_sealer, load_settings, master_sealer

BODY = b"Subject: x\r\n\r\nA client story, still held.\r\n"


class Process:
    """The sealer a gateway process builds from its settings, as each test step restarts it."""

    sealer: BodySealer = NullSealer()


PROCESS = Process()


@pytest.fixture(autouse=True)
def _unconfigured() -> Iterator[None]:
    yield
    PROCESS.sealer = NullSealer()


def seal(content: bytes) -> bytes:
    return PROCESS.sealer.seal(content)


def open_sealed(blob: bytes) -> bytes:
    return PROCESS.sealer.open(blob)


def destroy_key(blob: bytes) -> bool:
    return PROCESS.sealer.destroy(blob)


def active() -> Sealer | None:
    return PROCESS.sealer if isinstance(PROCESS.sealer, Sealer) else None


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
    return path


def stampgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args],
                          capture_output=True, text=True, timeout=60)


def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "var" / crypto.KEY_DIR


def key_id(blob: bytes) -> bytes:
    found = crypto.sealed_key_id(blob)
    assert found is not None
    return found


def key_file(tmp_path: Path, blob: bytes) -> Path:
    return key_dir(tmp_path) / f"{key_id(blob).hex()}.key"


def fingerprints(tmp_path: Path) -> dict[str, str]:
    """Key file name -> the fingerprint (hex) of the master key that wrapped it."""
    result = {}
    for path in sorted(key_dir(tmp_path).glob("*.key")):
        fingerprint = crypto.wrapped_fingerprint(path.read_bytes())
        assert fingerprint is not None
        result[path.name] = fingerprint.hex()
    return result


def snapshot(tmp_path: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_ino) for p in key_dir(tmp_path).iterdir()}


def fp(key: str) -> str:
    return crypto.master_key_fingerprint(parse_master_key(key)).hex()


def test_old_key_opens_and_rotation_moves_every_file_to_the_new_key(
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
    for path in key_dir(tmp_path).iterdir():
        assert path.suffix == ".key"  # no temporary file left behind
        assert path.stat().st_mode & 0o077 == 0

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
    before = snapshot(tmp_path)
    again = stampgate("keys", "rotate", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert "re-wrapped 0, already current 2, unreadable 0" in again.stdout
    assert snapshot(tmp_path) == before  # same bytes, same files


def test_a_message_under_an_unknown_master_key(tmp_path: Path,
                                               keys: tuple[str, str, str]) -> None:
    a, b, c = keys
    configure(tmp_path, c)
    lost = seal(BODY)
    configure(tmp_path, a)
    kept = seal(BODY)
    lost_file = key_file(tmp_path, lost)
    original = lost_file.read_bytes(), lost_file.stat().st_ino, lost_file.stat().st_mtime_ns

    config = configure(tmp_path, b, a)
    assert open_sealed(kept) == BODY
    with pytest.raises(SealError, match=f"another master key, one that is not configured "
                                        f"\\(fingerprint {fp(c)}\\)"):
        open_sealed(lost)

    result = stampgate("keys", "rotate", "--config", str(config))
    assert result.returncode == 1
    assert f"unreadable {lost_file.name}: " in result.stdout
    assert "not configured" in result.stdout
    assert "re-wrapped 1, already current 0, unreadable 1" in result.stdout
    assert "could not be re-wrapped" in result.stderr
    # Left exactly as it was: with C configured as an old key it still opens.
    assert (lost_file.read_bytes(), lost_file.stat().st_ino,
            lost_file.stat().st_mtime_ns) == original
    configure(tmp_path, b, c)
    assert open_sealed(lost) == BODY
    status = stampgate("keys", "status", "--config", str(write_config(tmp_path, b)))
    assert status.returncode == 0, status.stderr
    assert f"{fp(c)}        1  not configured" in status.stdout


def test_damaged_and_misnamed_key_files_are_reported_and_left_alone(
        tmp_path: Path, keys: tuple[str, str, str]) -> None:
    a, b, _ = keys
    configure(tmp_path, a)
    damaged = seal(BODY)
    path = key_file(tmp_path, damaged)
    flipped = bytearray(path.read_bytes())
    flipped[-1] ^= 0x01
    path.write_bytes(bytes(flipped))
    stray = key_dir(tmp_path) / "not-a-key-id.key"
    stray.write_bytes(b"\x01junk")
    result = stampgate("keys", "rotate", "--config", str(write_config(tmp_path, b, a)))
    assert result.returncode == 1
    assert f"unreadable {path.name}: held message or its key was altered" in result.stdout
    assert "unreadable not-a-key-id.key: not a key file name" in result.stdout
    assert path.read_bytes() == bytes(flipped) and stray.read_bytes() == b"\x01junk"


def test_status_counts_key_files_per_master_key(tmp_path: Path,
                                                keys: tuple[str, str, str]) -> None:
    a, b, c = keys
    for key, count in ((a, 2), (b, 1), (c, 1)):
        configure(tmp_path, key)
        for _ in range(count):
            seal(BODY)
    config = write_config(tmp_path, b, a)
    result = stampgate("keys", "status", "--config", str(config))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"key files in {key_dir(tmp_path)}: 4"
    assert f"  {fp(b)}        1  current (held_encryption_key)" in lines
    assert f"  {fp(a)}        2  old (held_encryption_old_keys, entry 1)" in lines
    assert f"  {fp(c)}        1  not configured: cannot be read" in lines
    assert "still under an old master key: run stampgate keys rotate" in result.stdout

    assert stampgate("keys", "rotate", "--config", str(config)).returncode == 1  # C's file
    after = stampgate("keys", "status", "--config", str(config)).stdout
    assert f"  {fp(a)}        0  old (held_encryption_old_keys, entry 1)" in after
    assert "held_encryption_old_keys can be emptied" in after
    assert "1 key file(s) cannot be opened with the configured master keys" in after


def test_an_interrupted_rotation_finishes_on_the_next_run(tmp_path: Path,
                                                          keys: tuple[str, str, str]) -> None:
    a, b, _ = keys
    configure(tmp_path, a)
    sealed = [seal(BODY) for _ in range(4)]
    old, new = parse_master_key(a), parse_master_key(b)
    sealer = Sealer(new, key_dir(tmp_path), (old,))
    # Half done, and a temporary file left by a rotation killed while writing.
    for blob in sealed[:2]:
        assert sealer.rewrap(key_id(blob)) == "rewrapped"
    leftover = key_file(tmp_path, sealed[2]).with_suffix(".tmp")
    leftover.write_bytes(b"half")
    result = stampgate("keys", "rotate", "--config", str(write_config(tmp_path, b, a)))
    assert result.returncode == 0, result.stderr
    assert "re-wrapped 2, already current 2, unreadable 0" in result.stdout
    assert not leftover.exists()
    configure(tmp_path, b)
    assert all(open_sealed(blob) == BODY for blob in sealed)


def test_destroy_also_removes_a_leftover_temporary_key(tmp_path: Path,
                                                       keys: tuple[str, str, str]) -> None:
    configure(tmp_path, keys[0])
    blob = seal(BODY)
    path = key_file(tmp_path, blob)
    leftover = path.with_suffix(".tmp")
    leftover.write_bytes(path.read_bytes())
    assert destroy_key(blob) is True
    assert list(key_dir(tmp_path).iterdir()) == []
    sealer = active()
    assert sealer is not None
    assert sealer.rewrap(key_id(blob)) == "gone"
    assert list(key_dir(tmp_path).iterdir()) == []


def test_rotation_while_messages_are_read_and_destroyed(tmp_path: Path,
                                                        keys: tuple[str, str, str]) -> None:
    """Readers never see a half-replaced file; a key destroyed meanwhile never comes back."""
    a, b, _ = keys
    configure(tmp_path, a)
    sealed = [seal(BODY + str(i).encode()) for i in range(150)]
    configure(tmp_path, b, a)
    sealer = active()
    assert sealer is not None
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
    for _, found in crypto.key_files(sealer.key_dir):
        assert found is not None
        sealer.rewrap(found)
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(list(key_dir(tmp_path).iterdir())) == len(kept)
    configure(tmp_path, b)
    for blob in doomed:
        with pytest.raises(KeyDestroyed):
            open_sealed(blob)
    assert all(open_sealed(blob).startswith(BODY) for blob in kept)


def test_a_key_file_being_read_is_neither_replaced_nor_destroyed_under_the_reader(
        tmp_path: Path, keys: tuple[str, str, str]) -> None:
    a, b, _ = keys
    configure(tmp_path, a)
    blob = seal(BODY)
    path = key_file(tmp_path, blob)
    original = path.read_bytes()
    configure(tmp_path, b, a)
    sealer = active()
    assert sealer is not None
    outcomes: list[object] = []
    with open(path, "rb") as reader:
        fcntl.flock(reader.fileno(), fcntl.LOCK_SH)  # what every reader of a key file takes
        workers = [threading.Thread(target=lambda: outcomes.append(sealer.rewrap(key_id(blob)))),
                   threading.Thread(target=lambda: outcomes.append(destroy_key(blob)))]
        for worker in workers:
            worker.start()
        time.sleep(0.3)
        assert all(worker.is_alive() for worker in workers)  # both wait for the reader
        assert reader.read() == original and path.read_bytes() == original
    for worker in workers:
        worker.join(timeout=10)
    # Whichever went first, the key is gone and stays gone.
    assert sorted(map(str, outcomes)) in (["True", "gone"], ["True", "rewrapped"])
    assert list(key_dir(tmp_path).iterdir()) == []
    with pytest.raises(KeyDestroyed):
        open_sealed(blob)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_rotation_as_root_keeps_the_owner_of_each_key_file(
        tmp_path: Path, keys: tuple[str, str, str]) -> None:
    a, b, _ = keys
    configure(tmp_path, a)
    blob = seal(BODY)
    (path,) = key_dir(tmp_path).iterdir()
    os.chown(path, 4321, 4322)
    sealer = Sealer(parse_master_key(b), key_dir(tmp_path), (parse_master_key(a),))
    assert sealer.rewrap(key_id(blob)) == "rewrapped"
    assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4322)
    assert path.stat().st_mode & 0o777 == 0o600


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
