"""The protected-client register's use cases: admin changes, CSV import, the live index."""

from __future__ import annotations

import asyncio
import csv
import functools
import gc
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.adapters.memory import give_back_free_memory
from gateway.adapters.register_key import register_key
from gateway.core.facts import MessageFacts
from gateway.core.register import (
    PROTECTED_FIELDS,
    ClientRecord,
    ClientStatus,
    RegisterFinding,
    RegisterIndex,
    findings,
    hash_rows,
)
from gateway.store import register as tables
from gateway.store.db import DB_NAME

COLUMNS = ("pseudonym", "names", "hometown", "job", "origin", "withhold", "resettled",
           "share_only_after_resettlement")
_YES_NO = {"yes": True, "no": False, "": False}
# Above this many characters of text the scan runs off the event loop.
_INLINE_TEXT = 64 * 1024


class ClientsError(Exception):
    """Bad register input; the message names the line and column, never a value."""


def status_of(record: ClientRecord) -> ClientStatus:
    return ClientStatus(record.pseudonym,
                        frozenset(f for f in PROTECTED_FIELDS if record.values.get(f)),
                        record.resettled, record.share_only_after_resettlement)


def split_values(cell: str) -> tuple[str, ...]:
    """Several values in one cell are separated by ``;``."""
    return tuple(v.strip() for v in cell.split(";") if v.strip())


def yes_no(cell: str, where: str) -> bool:
    try:
        return _YES_NO[cell.strip().lower()]
    except KeyError:
        raise ClientsError(f"{where}: expected yes or no") from None


def parse_csv(text: str) -> list[ClientRecord]:
    """The clients of a register CSV: a header row of known columns, one client a row."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if not header:
        raise ClientsError("line 1: no header row")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise ClientsError(f"line 1: unknown column(s) {', '.join(unknown)}; the columns are "
                           f"{','.join(COLUMNS)}")
    if "pseudonym" not in header:
        raise ClientsError("line 1: the pseudonym column is required")
    records: list[ClientRecord] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise ClientsError(f"line {line}: more cells than columns")
        cells = dict(zip(header, row, strict=False))
        pseudonym = cells.get("pseudonym", "").strip()
        if not pseudonym:
            raise ClientsError(f"line {line}: the pseudonym is empty")
        if pseudonym in seen:
            raise ClientsError(f"line {line}: pseudonym {pseudonym} appears twice")
        seen.add(pseudonym)
        values = {f: split_values(cells.get(f.value, "")) for f in PROTECTED_FIELDS}
        records.append(ClientRecord(
            pseudonym, values,
            yes_no(cells.get("resettled", ""), f"line {line}, column resettled"),
            yes_no(cells.get("share_only_after_resettlement", ""),
                   f"line {line}, column share_only_after_resettlement")))
    return records


class ClientRegister:
    """Admin access to the register in the store under ``data_dir``."""

    def __init__(self, data_dir: Path, url: str = "") -> None:
        """``url``: the store's (empty: the SQLite file in ``data_dir``)."""
        self.data_dir = data_dir
        self.path = data_dir / DB_NAME
        self.url = url

    def put(self, records: list[ClientRecord]) -> tuple[int, int]:
        """Add or update each client by pseudonym; (added, updated)."""
        key = register_key(self.data_dir)
        added = 0
        with tables.connect(self.path, self.url) as conn:
            for record in records:
                added += tables.put_client(conn, status_of(record), hash_rows(key, record))
        return added, len(records) - added

    def update(self, record: ClientRecord) -> bool:
        """Change one client: the fields given replace the stored ones, the others stay, the
        two statuses are set. False if there is no such client."""
        key = register_key(self.data_dir)
        given = frozenset(f for f in PROTECTED_FIELDS if record.values.get(f))
        with tables.connect(self.path, self.url) as conn:
            old = next((c for c in tables.clients(conn) if c.pseudonym == record.pseudonym),
                       None)
            if old is None:
                return False
            status = ClientStatus(record.pseudonym, old.fields | given, record.resettled,
                                  record.share_only_after_resettlement)
            rows = [r for r in hash_rows(key, record) if r.field in given]
            tables.put_client(conn, status, rows, given)
        return True

    def remove(self, pseudonym: str) -> bool:
        with tables.connect(self.path, self.url) as conn:
            return tables.remove_client(conn, pseudonym)

    def clients(self) -> list[ClientStatus]:
        with tables.connect(self.path, self.url) as conn:
            return tables.clients(conn)

    def get(self, pseudonym: str) -> ClientStatus | None:
        return next((c for c in self.clients() if c.pseudonym == pseudonym), None)

    def load(self) -> tuple[int, RegisterIndex]:
        key = register_key(self.data_dir)
        with tables.connect(self.path, self.url) as conn:
            loaded = tables.snapshot(conn, functools.partial(RegisterIndex.build, key))
        # Building it took several times the index's size, for a moment (about 8 MB of
        # 20 for 10,000 clients would otherwise stay in the process).
        give_back_free_memory()
        return loaded

    def generation(self) -> int:
        with tables.connect(self.path, self.url) as conn:
            return tables.generation(conn)


@dataclass(slots=True)
class _Loaded:
    generation: int
    index: RegisterIndex
    checked: float


class LiveRegister:
    """The index the submit use case scans with: loaded once, reloaded when the register's
    generation changes (looked at no more than once per ``every`` seconds)."""

    def __init__(self, register: ClientRegister, every: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.register = register
        self.every = every
        self.clock = clock
        self._loaded: _Loaded | None = None
        self._lock = asyncio.Lock()

    async def index(self) -> RegisterIndex:
        async with self._lock:
            now = self.clock()
            loaded = self._loaded
            if loaded is not None and now - loaded.checked < self.every:
                return loaded.index
            generation = await asyncio.to_thread(self.register.generation)
            if loaded is None or generation != loaded.generation:
                generation, index = await asyncio.to_thread(self.register.load)
                loaded = _Loaded(generation, index, now)
                # The index is long-lived and large: out of the collector's sight, its
                # hundreds of thousands of objects do not lengthen every collection.
                gc.freeze()
            loaded.checked = now
            self._loaded = loaded
            return loaded.index

    async def findings(self, facts: MessageFacts) -> tuple[RegisterFinding, ...]:
        """What the register finds in one message (nothing while it is empty)."""
        index = await self.index()
        if not index.full:
            return ()
        size = len(facts.subject) + sum(len(p.text) for p in facts.top_texts)
        if size > _INLINE_TEXT or facts.attached or facts.documents:
            hits = await asyncio.to_thread(index.scan, facts)
        else:
            hits = index.scan(facts)
        return findings(hits, index.clients)

