"""``stampgate clients``: values from stdin or a file, never printed back; CSV errors named."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

HEADER = "pseudonym,names,hometown,job,origin,withhold,resettled,share_only_after_resettlement\n"


def stampgate(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "clients", *args, "--data", str(data)],
                          capture_output=True, text=True, input=stdin, timeout=60)


def listing(data: Path) -> str:
    done = stampgate(data, "list")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_add_update_remove_and_list(tmp_path: Path) -> None:
    added = stampgate(tmp_path, "add", "John", "--stdin", "--share-only-after-resettlement",
                      "yes", stdin="names: Amina Haddad; Umm Yusuf\nhometown: Kobani\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "John: added (names, hometown)"
    assert ("John: fields set: names, hometown; resettled: no; share only after "
            "resettlement: yes") in listing(tmp_path)
    again = stampgate(tmp_path, "add", "John", "--stdin", stdin="job: baker\n")
    assert again.returncode == 2 and "use clients update" in again.stderr
    values = tmp_path / "values.txt"
    values.write_text("job: baker\n", encoding="utf-8")
    updated = stampgate(tmp_path, "update", "John", "--file", str(values), "--resettled", "yes")
    assert updated.returncode == 0, updated.stderr
    assert ("John: fields set: names, hometown, job; resettled: yes; share only after "
            "resettlement: yes") in listing(tmp_path)
    as_json = stampgate(tmp_path, "list", "--json")
    assert json.loads(as_json.stdout) == [{
        "pseudonym": "John", "fields": ["names", "hometown", "job"], "resettled": True,
        "share_only_after_resettlement": True}]
    assert "Kobani" not in as_json.stdout and "Amina" not in as_json.stdout
    with sqlite3.connect(tmp_path / "stampgate.sqlite3") as conn:
        fields = {f for (f,) in conn.execute("SELECT DISTINCT field FROM register_hashes")}
    assert fields == {"pseudonym", "names", "hometown", "job"}  # the update kept the names
    removed = stampgate(tmp_path, "remove", "John")
    assert removed.returncode == 0 and listing(tmp_path).strip() == "no clients registered"
    with sqlite3.connect(tmp_path / "stampgate.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM register_hashes").fetchone() == (0,)


def test_import_adds_then_updates_and_prints_no_values(tmp_path: Path) -> None:
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text(HEADER + "John,Amina Haddad,Kobani,,,,no,yes\nSara,Olena Kovalenko,,,,,,\n",
                        encoding="utf-8")
    first = stampgate(tmp_path, "import", str(csv_file))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "imported: 2 added, 0 updated"
    second = stampgate(tmp_path, "import", "-",
                       stdin="pseudonym,names\nJohn,Amina Haddad\nLena,Elena Petrova\n")
    assert second.stdout.strip() == "imported: 1 added, 1 updated"
    for shown in (first.stdout, second.stdout, listing(tmp_path)):
        assert "Amina" not in shown and "Kobani" not in shown and "Olena" not in shown


@pytest.mark.parametrize(("csv_text", "error"), [
    ("pseudonym,names,phone\nJohn,Amina Haddad,555\n", "line 1: unknown column(s) phone"),
    ("names\nAmina Haddad\n", "line 1: the pseudonym column is required"),
    (HEADER + "John,Amina Haddad,,,,,maybe,no\n", "line 2, column resettled: expected yes or no"),
    (HEADER + ",Amina Haddad,,,,,,\n", "line 2: the pseudonym is empty"),
    ("pseudonym,names\nJohn,Amina Haddad\nJohn,Amina Haddad\n", "pseudonym John appears twice"),
    ("pseudonym,names\nJohn,Amina Haddad,extra\n", "line 2: more cells than columns"),
])
def test_a_bad_csv_is_refused_whole_and_names_no_value(tmp_path: Path, csv_text: str,
                                                       error: str) -> None:
    done = stampgate(tmp_path, "import", "-", stdin=csv_text)
    assert done.returncode == 2
    assert error in done.stderr
    assert "Amina" not in done.stderr + done.stdout
    assert listing(tmp_path).strip() == "no clients registered"


def test_a_bad_values_line_names_the_line_not_the_value(tmp_path: Path) -> None:
    done = stampgate(tmp_path, "add", "John", "--stdin", stdin="names: Amina Haddad\nAleppo\n")
    assert done.returncode == 2
    assert "line 2: expected 'FIELD: values'" in done.stderr and "Aleppo" not in done.stderr


def test_values_are_not_accepted_on_the_command_line(tmp_path: Path) -> None:
    done = stampgate(tmp_path, "add", "John", "--names", "Amina Haddad")
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr
