"""Two gateways sharing PostgreSQL, one killed mid-load and one mid-outbox (real processes).

Every message that got 250 is delivered or held exactly once; every released message is
delivered exactly once, the killed gateway's claimed entries taken over when its lease ends.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg

from gateway.policyfiles.load import load_policy
from gateway.service.review import Desk
from gateway.settings import held_sealer, load_settings
from gateway.store.store import HeldFilter, OutboxKind, OutboxState, Store
from tests.support.downstream import Downstream, Mode
from tests.support.gateway import EXAMPLE_POLICIES, GatewayProcess, message
from tests.support.postgres import TestDatabase

ALICE = "alice@example.org"
BOB = "bob@example.org"
PARTNER = "partner@outside.test"
HOLD = "Needs adjustment: blur face\n\nA client story."
CLEARED = "Cleared for publication\n\nNews for everyone."
CONFIG = {"workers": 1, "notify_mode": "off", "outbox_poll_seconds": 0.2,
          "downstream_timeout": 2, "outbox_lease_seconds": 5, "housekeeping_seconds": 0.5}
MESSAGE_ID = re.compile(r"^Message-ID: (<[^>]+>)", re.M | re.I)


def ids(received: list[object]) -> Counter[str]:
    found: Counter[str] = Counter()
    for item in received:
        match = MESSAGE_ID.search(item.header_text)  # type: ignore[attr-defined]
        if match:
            found[match.group(1)] += 1
    return found


async def _held(url: str, data: Path) -> list[tuple[str, str | None]]:
    store = await Store.open(data, url)
    try:
        return [(h.id, h.message_id) for h in await store.find_held(HeldFilter(state=None))]
    finally:
        await store.close()


async def _release_all(url: str, data: Path) -> int:
    settings = load_settings(None, {"data": data, "store_url": url,
                                    "policies": EXAMPLE_POLICIES, "notify_mode": "off"})
    policy = load_policy(EXAMPLE_POLICIES)
    store = await Store.open(data, url)
    threads = store.thread_memory()
    await threads.open()
    try:
        desk = Desk(store, settings, lambda: policy, held_sealer(settings), threads)
        waiting = await store.held()
        for hold in waiting:
            await desk.release(hold.id, "director@example.org", adjustments_done=["blur face"])
        return len(waiting)
    finally:
        await threads.close()
        await store.close()


async def _releases_pending(url: str, data: Path) -> list[object]:
    store = await Store.open(data, url)
    try:
        return [i for i in await store.outbox_entries(OutboxState.PENDING)
                if i.kind is OutboxKind.RELEASE]
    finally:
        await store.close()


def claimers(url: str) -> set[str]:
    """The gateways holding a live claim on a pending release right now."""
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute(
            "SELECT claimed_by FROM outbox WHERE kind = 'release' AND state = 'pending' "
            "AND claimed_until > now() AT TIME ZONE 'UTC'")}


def test_one_of_two_gateways_killed_mid_load_and_mid_outbox(
        tmp_path: Path, downstream: Downstream, postgres: TestDatabase) -> None:
    url = postgres.new_schema()
    shared = tmp_path / "shared"  # keys and accounts: one directory for both nodes
    nodes = [GatewayProcess(tmp_path / name, downstream.url, config=CONFIG,
                            extra_args=["--store", url, "--data", str(shared)])
             for name in ("a", "b")]
    for node in nodes:
        node.start()
    try:
        # -- mid-load: four clients spread 32 messages over both; A dies after a third
        replies: dict[str, tuple[str, int]] = {}
        lock = threading.Lock()

        def client(number: int) -> None:
            for i in range(8):
                n = number * 8 + i
                kind = "hold" if n % 2 else "relay"
                mid = f"<failover-{n}@example.org>"
                node = nodes[n % 2]
                body, rcpt = (HOLD, PARTNER) if kind == "hold" else (CLEARED, BOB)
                try:
                    code, _ = node.send(ALICE, [rcpt], message(body, to=rcpt, message_id=mid))
                except OSError:
                    code = 0  # the gateway is gone: the client would retry elsewhere
                with lock:
                    replies[mid] = (kind, code)

        clients = [threading.Thread(target=client, args=(c,)) for c in range(4)]
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 60
        while len(replies) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert nodes[0].proc is not None
        nodes[0].proc.kill()
        nodes[0].proc.wait(10)
        for thread in clients:
            thread.join(120)
        assert len(replies) == 32
        accepted = {mid: kind for mid, (kind, code) in replies.items() if code == 250}
        assert any(code != 250 for _, code in replies.values()), "A died after all its mail"
        assert sum(1 for kind in accepted.values() if kind == "hold") >= 6

        held = asyncio.run(_held(url, shared))
        held_ids = Counter(mid for _, mid in held)
        delivered = ids(downstream.messages)
        for mid, kind in accepted.items():
            found = held_ids[mid] if kind == "hold" else delivered[mid]
            assert found == 1, (mid, kind, found)
        for mid in replies:  # refused or cut off: never twice, never both
            assert held_ids[mid] + delivered[mid] <= 1, mid

        # -- mid-outbox: A back, every hold released, B killed while delivering
        nodes[0].start()
        downstream.clear()
        downstream.set(Mode.SLOW, delay=1.0)
        released = asyncio.run(_release_all(url, shared))
        assert released == len(held)
        deadline = time.monotonic() + 20
        while len(claimers(url)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(claimers(url)) == 2, "both gateways should be delivering a release now"
        assert nodes[1].proc is not None
        nodes[1].proc.kill()
        nodes[1].proc.wait(10)
        deadline = time.monotonic() + 90
        while asyncio.run(_releases_pending(url, shared)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert asyncio.run(_releases_pending(url, shared)) == []
        to_partner = [m for m in downstream.messages if PARTNER in m.recipients]
        assert ids(to_partner) == Counter({mid: 1 for _, mid in held if mid})
    finally:
        downstream.set(Mode.ACCEPT)
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.stop()
