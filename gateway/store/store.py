"""The durable store: held messages, the release outbox, the audit log and the answers of
idempotent acceptance, on either engine.

Its tables' classes (``held.py``, ``outbox.py``, ``audit.py``, ``accepted.py``) share one
engine (``db.py``: SQLite's file and group commit, or a PostgreSQL pool); the thread memory
(``threads.py``) and the review UI's sessions (``sessions.py``) use it through ``Store.read``
and ``Store.write``. The records it hands out are in ``records.py``.
"""

from __future__ import annotations

from pathlib import Path

from gateway.store.accepted import AcceptedTables
from gateway.store.audit import AuditLog
from gateway.store.db import DB_NAME, open_engine
from gateway.store.held import HeldTables
from gateway.store.insight import InsightQueries
from gateway.store.keys import HeldKeyTables
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
from gateway.store.threads import ThreadMemory

__all__ = [
    "DB_NAME", "HeldFilter", "HeldMessage", "HeldState", "HoldNotices", "NewMail",
    "OutboxItem", "OutboxKind", "OutboxState", "Store", "StoreError", "new_held", "now",
]


class Store(HeldTables, HeldKeyTables, OutboxTables, AuditLog, AcceptedTables, InsightQueries):
    """Async access to the store: ``url`` names the engine (empty: SQLite in ``data_dir``)."""

    @classmethod
    async def open(cls, data_dir: Path, url: str = "") -> Store:
        return cls(await open_engine(url, data_dir))

    def thread_memory(self) -> ThreadMemory:
        """The thread memory on this store (call its ``open`` before use)."""
        return ThreadMemory(self.path, self.write, None if self.path else self.read)
