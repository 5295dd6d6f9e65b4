"""The durable store (SQLite): held messages, the release outbox, the audit log and the
answers of idempotent acceptance.

Its tables' classes (``held.py``, ``outbox.py``, ``audit.py``, ``accepted.py``) share one
connection and its group commit (``db.py``); the thread memory (``threads.py``) writes its
own tables through ``Store.write``. The records it hands out are in ``records.py``.
"""

from __future__ import annotations

from pathlib import Path

from gateway.store.accepted import AcceptedTables
from gateway.store.audit import AuditLog
from gateway.store.db import DB_NAME
from gateway.store.held import HeldTables
from gateway.store.outbox import OutboxTables
from gateway.store.records import (
    HeldFilter,
    HeldMessage,
    HeldState,
    HoldNotices,
    NewMail,
    OutboxItem,
    OutboxKind,
    OutboxState,
    StoreError,
    new_held,
    now,
)

__all__ = [
    "DB_NAME", "HeldFilter", "HeldMessage", "HeldState", "HoldNotices", "NewMail",
    "OutboxItem", "OutboxKind", "OutboxState", "Store", "StoreError", "new_held", "now",
]


class Store(HeldTables, OutboxTables, AuditLog, AcceptedTables):
    """Async access to the SQLite store under the data directory."""

    @classmethod
    async def open(cls, data_dir: Path) -> Store:
        return cls(*await cls.connect(data_dir))
