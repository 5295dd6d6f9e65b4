"""Held bodies opened and destroyed with their keys from the store (or an older key file).

Every gateway sharing a store opens every held body: the wrapped keys are in the store and
the master key is the same on every node. Key files an older gateway left in
``DATA/held-keys`` are still read, and ``import_key_files`` moves them into the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from gateway.adapters import key_files
from gateway.adapters.crypto import BodySealer, SealError, sealed_key_id
from gateway.logs import get_logger
from gateway.store.conn import Conn
from gateway.store.keys import body_key_ids, import_keys, keys_in
from gateway.store.records import HeldMessage
from gateway.store.store import Store

log = get_logger()


async def open_body(store: Store, sealer: BodySealer, blob: bytes) -> bytes:
    """A stored body (or subject) as plaintext; raises ``SealError`` if it cannot be read."""
    key_id = sealed_key_id(blob)
    if key_id is None:
        return blob
    wrapped = (await store.held_keys([key_id])).get(key_id)
    return await asyncio.to_thread(sealer.open, blob, wrapped)


async def destroy_key(store: Store, sealer: BodySealer, blob: bytes) -> bool:
    """Destroy a sealed body's key, in the store and any older key file; ``True`` if one
    was there. The body is unreadable for good afterwards."""
    key_id = sealed_key_id(blob)
    if key_id is None:
        return False
    in_store = await store.destroy_held_key(key_id)
    in_file = await asyncio.to_thread(sealer.destroy_file, key_id)
    return in_store or in_file


async def withdraw_hold(store: Store, sealer: BodySealer, hold_id: str) -> None:
    """Undo a hold whose message got no 250 (its allowed part could not be delivered): the
    hold is forgotten and its body's key destroyed."""
    sealed = await store.held_content(hold_id)
    await store.forget_hold(hold_id, "onward delivery failed")
    if sealed:
        await destroy_key(store, sealer, sealed)


async def open_subjects(store: Store, sealer: BodySealer,
                        holds: Sequence[HeldMessage]) -> dict[str, str | None]:
    """Each hold's subject as text; ``None`` if it was not kept or can no longer be read.

    The keys are read in one query.
    """
    ids = [k for k in (sealed_key_id(h.subject) for h in holds if h.subject) if k is not None]
    keys = await store.held_keys(ids)

    def opened() -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for hold in holds:
            if hold.subject is None:
                out[hold.id] = None
                continue
            key_id = sealed_key_id(hold.subject)
            try:
                text = sealer.open(hold.subject, keys.get(key_id) if key_id else None)
                out[hold.id] = text.decode("utf-8", "replace")
            except SealError:
                out[hold.id] = None
        return out

    return await asyncio.to_thread(opened)


async def import_key_files(store: Store, sealer: BodySealer) -> int:
    """Move the key files of an older gateway (``DATA/held-keys``) into the store: each key
    of a body in this store is added (unless the store has one) and its file then destroyed.
    Files of bodies not in this store are left alone. Returns how many were imported."""
    key_dir = sealer.key_dir
    if key_dir is None:
        return 0
    found = await asyncio.to_thread(_read_files, key_dir)
    if not found:
        return 0
    imported = await store.import_held_keys(found)
    in_store = await store.held_keys([key_id for key_id, _ in found])
    for key_id, _ in found:
        if key_id in in_store:  # the store's key is the one read from now on
            await asyncio.to_thread(key_files.destroy, key_dir, key_id)
    if imported:
        log.info("held-keys-imported", count=imported, directory=str(key_dir))
    return imported


def _read_files(key_dir: Path) -> list[tuple[bytes, bytes]]:
    found: list[tuple[bytes, bytes]] = []
    for path, key_id in key_files.listing(key_dir):
        if key_id is None:
            continue
        wrapped = key_files.read_key_file(path)
        if wrapped is not None:
            found.append((key_id, wrapped))
    return found


# -- the same for commands that work on one transaction of a store (``stampgate db``) -----

def import_in(conn: Conn, sealer: BodySealer) -> list[bytes]:
    """``import_key_files`` inside the caller's transaction: adds the keys and returns the
    ids of the files to destroy once it is committed (``destroy_files``)."""
    if sealer.key_dir is None:
        return []
    found = _read_files(sealer.key_dir)
    if not found:
        return []
    used = body_key_ids(conn)
    import_keys(conn, [(k, w) for k, w in found if k in used])
    there = keys_in(conn, [k for k, _ in found])
    return [k for k, _ in found if k in there]


def destroy_files(sealer: BodySealer, key_ids: Sequence[bytes]) -> None:
    if sealer.key_dir is not None:
        for key_id in key_ids:
            key_files.destroy(sealer.key_dir, key_id)


def unopened(conn: Conn, sealer: BodySealer) -> tuple[int, list[str]]:
    """Open every held body in ``conn`` with its key from the store or a key file: how
    many opened, and the ids of those that did not."""
    opened, failed = 0, []
    rows = [(str(r[0]), bytes(r[1])) for r in conn.execute(
        "SELECT id, content FROM held_messages WHERE length(content) > 0")]
    keys = keys_in(conn, [k for k in (sealed_key_id(b) for _, b in rows) if k is not None])
    for held_id, blob in rows:
        key_id = sealed_key_id(blob)
        try:
            sealer.open(blob, keys.get(key_id) if key_id is not None else None)
            opened += 1
        except SealError:
            failed.append(held_id)
    return opened, failed
