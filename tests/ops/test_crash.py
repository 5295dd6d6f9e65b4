"""Crash safety, bounded for CI: five SIGKILLs under load; nothing answered 250 is lost,
nothing is held twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import crash


def test_sigkill_under_load_loses_nothing_and_leaks_nothing(tmp_path: Path) -> None:
    report = crash.run(kills=5, workdir=tmp_path, max_up=1.5, drain_timeout=60)
    assert report.kills == 5
    assert report.ok, report.summary() + "\n" + "\n".join(report.problems[:20])
    assert report.lost == 0 and report.leaked == 0 and report.unresolved == 0
    assert report.integrity_failures == 0
    assert report.accepted > 100 and report.refused_permanent > 20
    assert set(report.kinds) == set(crash.KINDS)
    # acceptance is idempotent: no hold twice; a second delivery only where the gateway
    # died between the downstream's 250 and recording it, and then it is counted
    assert report.duplicates_held == 0, report.summary()
    assert report.duplicates_delivered <= report.possible_duplicates, report.summary()
    assert report.duplicates <= report.no_reply * 2, report.summary()

    # the holds the clients were told about are in the queue a reviewer sees
    listed = subprocess.run(
        [sys.executable, "-m", "gateway", "held", "list", "--json", "--data",
         str(tmp_path / "var")], capture_output=True, text=True, timeout=60, check=True)
    queue = {h["id"] for h in json.loads(listed.stdout)}
    sample = report.hold_ids[:50]
    assert sample and set(sample) <= queue
