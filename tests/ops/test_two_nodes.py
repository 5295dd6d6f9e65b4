"""Two gateways sharing PostgreSQL, each with a data directory of its own and the same master
key file: a message held on one opens and is released on the other (real processes).

The held body's key lives in the store, not on the node that held it; a key file an older
gateway left in a node's ``DATA/held-keys`` is moved into the store when that node starts.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from gateway.adapters.crypto import Sealer, new_master_key, parse_master_key
from gateway.adapters.key_files import KEY_DIR
from gateway.adapters.key_files import write as write_key_file
from gateway.policyfiles.load import load_policy
from gateway.store.store import Store
from tests.support.downstream import Downstream
from tests.support.gateway import EXAMPLE_POLICIES, GatewayProcess
from tests.support.held import hold
from tests.support.postgres import TestDatabase
from tests.support.review_gateway import FAST, add_reviewer, cli, send_held, wait_for

PARTNER = "partner@outside.test"
ON_A = "Amira crossed the border in March (held on node A)."
OLDER = "Yusuf's interview notes (held by an older gateway)."


async def _older_gateways_hold(data: Path, url: str, key: bytes) -> str:
    """A hold whose key is a file in ``data``'s held-keys, as gateways before kept it."""
    store = await Store.open(data, url)
    try:
        hold_id = await hold(store, load_policy(EXAMPLE_POLICIES),
                             f"Needs adjustment: blur face\n\n{OLDER}",
                             sealer=Sealer(key, data / KEY_DIR))
        [(key_id, wrapped)] = await store.all_held_keys()
        write_key_file(data / KEY_DIR, key_id, wrapped)
        assert await store.destroy_held_key(key_id)
    finally:
        await store.close()
    return hold_id


def test_a_hold_on_one_node_is_opened_and_released_on_another(
        tmp_path: Path, downstream: Downstream, postgres: TestDatabase) -> None:
    url = postgres.new_schema()
    master = tmp_path / "master.key"  # the shared configuration: one key file, on each node
    master.write_text(new_master_key() + "\n")
    config = {**FAST, "notify_mode": "off"}
    nodes = [GatewayProcess(tmp_path / name, downstream.url, config=config,
                            extra_args=["--store", url]) for name in ("a", "b")]
    a, b = nodes
    for node in nodes:
        node.data.mkdir(mode=0o700, parents=True)
        shutil.copy(master, node.data / "master.key")
        (node.data / "master.key").chmod(0o600)
    older = asyncio.run(_older_gateways_hold(a.data, url,
                                             parse_master_key(master.read_text())))
    assert len(list((a.data / KEY_DIR).glob("*.key"))) == 1
    try:
        a.start()
        b.start()
        # A moved the older gateway's key file into the store when it started.
        assert list((a.data / KEY_DIR).glob("*.key")) == []
        held = send_held(a, body=ON_A, recipients=(PARTNER,))
        a.stop()
        for node in nodes:
            assert list((node.data / KEY_DIR).glob("*.key")) == []
        add_reviewer(b)
        for hold_id in (held, older):
            released = cli(b, "held", "release", hold_id, "--by", "director@example.org",
                           "--adjustments-done", "--store", url)
            assert released.returncode == 0, released.stderr
        delivered = wait_for(downstream, PARTNER, count=2)
        bodies = b"".join(m.data for m in delivered)
        assert ON_A.encode() in bodies and OLDER.encode() in bodies
    finally:
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.stop()
