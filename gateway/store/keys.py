"""The keys of sealed held bodies, wrapped by the master key (table ``held_keys``).

A hold's key is written in the hold's own transaction (``held.py``), so a body is never
stored without its key. Key ids are the 16 bytes of the sealed body's header, kept as hex.
Deleting a row destroys its body for good; on SQLite ``secure_delete`` zeroes the freed
pages and a checkpoint empties the write-ahead log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gateway.store.conn import Conn
from gateway.store.db import Database
from gateway.store.records import now, stored


def insert_key(conn: Conn, key_id: bytes, wrapped: bytes) -> None:
    conn.execute("INSERT INTO held_keys (key_id, wrapped, created_at) VALUES (?, ?, ?)",
                 (key_id.hex(), wrapped, stored(now())))


def import_keys(conn: Conn, keys: Iterable[tuple[bytes, bytes]]) -> int:
    """Add keys not there yet (keys already there win); how many were added."""
    added = 0
    at = stored(now())
    for key_id, wrapped in keys:
        added += conn.execute(
            "INSERT INTO held_keys (key_id, wrapped, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key_id) DO NOTHING", (key_id.hex(), wrapped, at)).rowcount
    return added


def keys_in(conn: Conn, key_ids: Sequence[bytes]) -> dict[bytes, bytes]:
    """The wrapped keys of ``key_ids`` that are there."""
    found: dict[bytes, bytes] = {}
    ids = list(dict.fromkeys(key_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        for row in conn.execute(f"SELECT key_id, wrapped FROM held_keys WHERE key_id IN ({marks})",
                                [k.hex() for k in chunk]):
            found[bytes.fromhex(row[0])] = bytes(row[1])
    return found


def body_key_ids(conn: Conn) -> set[bytes]:
    """The key ids of the sealed bodies and subjects stored (erased ones have none)."""
    ids: set[bytes] = set()
    for row in conn.execute("SELECT substr(content, 9, 16), substr(subject, 9, 16) "
                            "FROM held_messages WHERE length(content) > 0"):
        ids.update(bytes(value) for value in row if value is not None)
    return ids


class HeldKeyTables(Database):
    """Read, destroy and re-wrap the stored keys of held bodies."""

    async def held_keys(self, key_ids: Sequence[bytes]) -> dict[bytes, bytes]:
        if not key_ids:
            return {}
        return await self._read(lambda conn: keys_in(conn, key_ids))

    async def all_held_keys(self) -> list[tuple[bytes, bytes]]:
        return await self._read(lambda conn: [
            (bytes.fromhex(row[0]), bytes(row[1]))
            for row in conn.execute("SELECT key_id, wrapped FROM held_keys ORDER BY key_id")])

    async def destroy_held_key(self, key_id: bytes) -> bool:
        """Delete a body's key; ``True`` if it was there."""
        deleted = await self._write(lambda conn: conn.execute(
            "DELETE FROM held_keys WHERE key_id = ?", (key_id.hex(),)).rowcount)
        await self._checkpoint()
        return bool(deleted)

    async def replace_held_key(self, key_id: bytes, old: bytes, new: bytes) -> bool:
        """Store ``new`` for ``key_id`` if it is still ``old``; ``False`` if it was destroyed
        or changed meanwhile."""
        return bool(await self._write(lambda conn: conn.execute(
            "UPDATE held_keys SET wrapped = ? WHERE key_id = ? AND wrapped = ?",
            (new, key_id.hex(), old)).rowcount))

    async def import_held_keys(self, keys: Sequence[tuple[bytes, bytes]]) -> int:
        """Add the keys of bodies in this store that it has no key for (older gateways kept
        them in files); returns how many were added. Keys of bodies not in it are left out."""

        def work(conn: Conn) -> int:
            used = body_key_ids(conn)
            return import_keys(conn, [(k, w) for k, w in keys if k in used])

        return await self._write(work)
