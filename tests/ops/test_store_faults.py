"""Store faults while holding: a locked database or a full disk gives 451 4.3.0, never 250.

The full disk is simulated with RLIMIT_FSIZE on the running gateway (``prlimit``): every
write past the limit fails with EFBIG, as a write to a full file system fails with ENOSPC;
SQLite reports both as a failed write and rolls the transaction back. It needs no mount
privileges; docs/operations.md records the same check on a real full tmpfs.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sqlite3
from pathlib import Path

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
PARTNER = "partner@outside.test"
HOLD = "Needs adjustment: blur face\n\nA client story."


def held(process: GatewayProcess) -> list[dict[str, object]]:
    result = process.run_cli("held", "list", "--json", "--data", str(process.data))
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_database_locked_by_another_process_gives_451(tmp_path: Path,
                                                      downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url).start()
    try:
        locker = sqlite3.connect(process.data / "stampgate.sqlite3", isolation_level=None)
        with contextlib.closing(locker):
            locker.execute("BEGIN EXCLUSIVE")
            # partial hold: Bob would be relayed, the partner held
            code, reply = process.send(ALICE, [BOB, PARTNER], message(HOLD, to=PARTNER))
            assert code == 451, reply
            assert reply.startswith("4.3.0"), reply
            locker.execute("ROLLBACK")
        assert downstream.messages == [], "relayed although the hold could not be stored"
        assert held(process) == []
        code, reply = process.send(ALICE, [BOB, PARTNER], message(HOLD, to=PARTNER))
        assert code == 250 and "held for review" in reply, reply
        assert len(held(process)) == 1
        downstream.wait_for(1)
        assert len(downstream.delivered_to(BOB)) == 1  # (reviewers may be notified too)
    finally:
        process.stop()


def test_disk_full_while_holding_gives_451_then_recovers(tmp_path: Path,
                                                         downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url, config={"workers": 1}).start()
    try:
        assert process.proc is not None
        pid = process.proc.pid
        big = message(HOLD + "\n" + ("x" * 998 + "\n") * 2048, to=PARTNER)  # about 2 MiB
        limit = 1024 * 1024
        # only the soft limit: lowering the hard one could not be undone without privileges
        before = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, before[1]))
        try:
            code, reply = process.send(ALICE, [BOB, PARTNER], big)
            assert code == 451, reply
            assert reply.startswith("4.3.0"), reply
            assert "while storing the hold for review" in reply, reply
            assert downstream.messages == []
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, before)
        assert process.proc.poll() is None, "the gateway died of the full disk"
        assert held(process) == []
        code, reply = process.send(ALICE, [BOB, PARTNER], big)
        assert code == 250 and "held for review" in reply, reply
        assert len(held(process)) == 1
        assert any(e.get("outcome") == "store-failed" for e in process.log_events("message"))
    finally:
        process.stop()
