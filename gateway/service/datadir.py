"""The data directory at start: 0700, its files 0600, and the generated master key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.adapters.accounts import USERS_FILE
from gateway.adapters.key_files import KEY_DIR
from gateway.adapters.master_key import MASTER_KEY_FILE, create_master_key
from gateway.adapters.private import DIR_MODE, FILE_MODE, private_dir, tighten
from gateway.adapters.reviewers import REVIEWERS_FILE
from gateway.settings import Settings
from gateway.store.store import DB_NAME

SESSION_KEY_FILE = "web-session.key"
# Files of a data directory made before every file was created private; tightened at start.
PRIVATE_FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", USERS_FILE, REVIEWERS_FILE,
                 SESSION_KEY_FILE, MASTER_KEY_FILE, "stampgate.lock")


@dataclass(frozen=True, slots=True)
class Prepared:
    """What preparing the data directory changed."""

    generated_key: Path | None
    tightened: tuple[str, ...]


def prepare(settings: Settings) -> Prepared:
    """Make the data directory private and, unless one is configured, the master key.

    The key is generated only when ``held_encryption_key`` is unset (not when it is ``""``,
    encryption off on purpose) and ``DATA/master.key`` does not exist yet.
    """
    data = Path(settings.data)
    existed = data.is_dir()
    tightened = [str(data)] if existed and tighten(data, DIR_MODE) else []
    private_dir(data)
    if tighten(data / KEY_DIR, DIR_MODE):
        tightened.append(KEY_DIR)
    tightened += [name for name in PRIVATE_FILES if tighten(data / name, FILE_MODE)]
    generated = create_master_key(data) if settings.held_encryption_key is None else None
    return Prepared(generated, tuple(tightened))
