"""A wholly held message's claim, thread memory and hold in one transaction, on both engines:
exactly one of several attempts at one key holds it, and a conflict in a group commit costs
the other writes of that commit nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.store.accepted import AcceptanceUpdate, Answer
from gateway.store.store import Store, new_held
from tests.store.test_store_sqlite import PARTNER, decision


async def _hold_at_once(store: Store, key: str, owner: str) -> str | None:
    record = new_held(queue_id="Q" + owner, sender="alice@example.org", recipients=[PARTNER],
                      held=[PARTNER], decision=decision(), size=5,
                      message_id=f"<{key}-{owner}@example.org>")
    threads = store.thread_memory()
    return await store.claim_and_hold(
        key, owner, threads.remembering(record.message_id or "", decision(), []), record,
        b"body!", None, AcceptanceUpdate(key, Answer("held", record.queue_id, record.id, 1, 0,
                                                     decision())),
        (owner.encode().ljust(16, b"-")[:16], b"wrapped"))


async def test_one_of_several_attempts_at_one_key_holds_it(tmp_path: Path,
                                                           store_url: str) -> None:
    stores = [await Store.open(tmp_path, store_url) for _ in range(2)]
    try:
        # Five messages in one group commit with a sixth whose key one of them has.
        results = await asyncio.gather(
            *(_hold_at_once(stores[0], f"k{n}", f"a{n}") for n in range(5)),
            _hold_at_once(stores[0], "k2", "late"),
            _hold_at_once(stores[1], "k3", "other-gateway"))
        assert None not in (results[0], results[1], results[4])
        assert (results[2] is None) != (results[5] is None)  # one of the two holds key k2
        assert (results[3] is None) != (results[6] is None)  # and one key k3
        held = await stores[0].held(None)
        assert sorted(h.message_id or "" for h in held) == sorted(
            f"<k{n}-{owner}@example.org>" for n, owner in
            [(0, "a0"), (1, "a1"), (2, "a2" if results[2] else "late"),
             (3, "a3" if results[3] else "other-gateway"), (4, "a4")])
        for n in range(5):  # every key answered, with the hold that won it
            row = await stores[1].accepted(f"k{n}")
            assert row is not None and row.answer is not None
            assert row.answer.hold_id in {h.id for h in held}
    finally:
        for store in stores:
            await store.close()
