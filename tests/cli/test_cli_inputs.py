"""The command line on bad input and without a terminal: a clear line on stderr, never a
traceback; results on stdout and log lines on stderr; the same settings flags everywhere."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.adapters.accounts import add_user, set_disabled
from gateway.adapters.reviewers import reviewers_path
from gateway.core.decision import ThreadContext
from gateway.core.model import Stamp
from gateway.store.store import Store
from tests.support.gateway import EXAMPLE_POLICIES
from tests.support.held import example_policy, hold

PASSWORD = "correct horse battery staple"
ROOT = Path(__file__).parents[2]


def run(*args: str, stdin: str | None = "", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "gateway", *args], cwd=cwd, text=True,
                          capture_output=True, input=stdin, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def held_in(data: Path, sender: str = "alice@example.org") -> str:
    """A held confidential reply (no checklist) in the store under ``data``."""

    async def make() -> str:
        store = await Store.open(data)
        try:
            thread = ThreadContext("<chain@example.org>", Stamp.CONFIDENTIAL,
                                   frozenset({"alice@example.org", "bob@example.org"}))
            return await hold(store, example_policy(), "Confidential", ("carol@example.org",),
                              sender=sender, thread=thread, subject="Budget 2027")
        finally:
            await store.close()

    return asyncio.run(make())


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "var"
    accounts = reviewers_path(folder)
    for login, addresses in (("director@example.org", []), ("legal-lead@example.org", []),
                             ("alice", ["alice@example.org"])):
        add_user(accounts, login, PASSWORD, addresses)
    set_disabled(accounts, "legal-lead@example.org", True)
    return folder


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("reviewers", "add", "x@example.org"), "\n",
     "no terminal to ask for the password on; pipe it in with --password-stdin"),
    (("reviewers", "add", "x@example.org"), None,
     "no terminal to ask for the password on; pipe it in with --password-stdin"),
    (("users", "add", "x@example.org"), "", "no terminal to ask for the password"),
    (("reviewers", "add", "x@example.org", "--password-stdin"), "",
     "--password-stdin was given but standard input is empty"),
    (("reviewers", "add", "x@example.org", "--password-stdin"), "short\n",
     "at least 12 characters"),
])
def test_passwords_without_a_terminal(tmp_path: Path, args: tuple[str, ...], stdin: str | None,
                                      message: str) -> None:
    done = run(*args, "--data", str(tmp_path), stdin=stdin)
    assert done.returncode == 2 and message in done.stderr and done.stdout == ""


@pytest.mark.parametrize(("by", "message"), [
    (("--by", "nobody@example.org"), "'nobody@example.org' is not a reviewer account"),
    (("--by", "legal-lead@example.org"), "'legal-lead@example.org' is disabled"),
    (("--by", "  "), "--by needs the login of a reviewer account"),
    (("--as-admin", " "), "--as-admin needs a note saying why"),
    (("--by", "alice"), "alice sent {id}: another reviewer must release it (four eyes)"),
    (("--by", "director@example.org", "--to", "eve@evil.test"), "is not a held recipient"),
])
def test_decisions_name_a_real_reviewer(data: Path, by: tuple[str, ...], message: str) -> None:
    hold_id = held_in(data)
    done = run("held", "release", hold_id, "--data", str(data), *by)
    assert done.returncode in (1, 2) and message.format(id=hold_id) in done.stderr
    shown = json.loads(run("held", "show", hold_id, "--json", "--data", str(data)).stdout)
    assert shown["state"] == "held"


def test_an_admin_decision_is_recorded_as_such(data: Path) -> None:
    hold_id = held_in(data)
    done = run("held", "discard", hold_id, "--data", str(data), "--as-admin",
               "reviewer on leave, asked by phone")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{hold_id}: discarded\n"  # the log line went to stderr
    assert '"event": "hold-decided"' in done.stderr
    [latest] = json.loads(run("audit", "--json", "--limit", "1", "--data", str(data)).stdout)
    assert latest["action"] == "discarded" and latest["actor"].startswith("admin:")
    assert latest["detail"]["as_admin"] == "reviewer on leave, asked by phone"


def test_audit_is_newest_first(data: Path) -> None:
    first, second = held_in(data), held_in(data)
    assert run("held", "release", second, "--by", "director@example.org", "--data",
               str(data)).returncode == 0
    newest = json.loads(run("audit", "--json", "--limit", "2", "--data", str(data)).stdout)
    assert [(e["action"], e["held_id"]) for e in newest] == [("released", second),
                                                             ("hold", second)]
    oldest = json.loads(run("audit", "--json", "--oldest-first", "--data", str(data)).stdout)
    assert [e["held_id"] for e in oldest] == [first, second, second]
    text = run("audit", "--limit", "1", "--data", str(data)).stdout.splitlines()
    assert len(text) == 1 and "released" in text[0]
    for bad in ("0", "-1", "many"):
        refused = run("audit", "--limit", bad, "--data", str(data))
        assert refused.returncode == 2 and "--limit" in refused.stderr


def test_lists_in_json(data: Path) -> None:
    hold_id = held_in(data)
    [row] = json.loads(run("held", "list", "--json", "--data", str(data)).stdout)
    assert row["id"] == hold_id and row["subject"] == "Budget 2027"
    assert "subject:  Budget 2027" in run("held", "list", "--data", str(data)).stdout
    reviewers = json.loads(run("reviewers", "list", "--json", "--data", str(data)).stdout)
    assert [(r["login"], r["disabled"]) for r in reviewers] == [
        ("alice", False), ("director@example.org", False), ("legal-lead@example.org", True)]
    assert json.loads(run("users", "list", "--json", "--data", str(data)).stdout) == []


@pytest.mark.parametrize("command", [("policy", "check"), ("policy", "test"),
                                     ("policy", "explain", "--rules")])
def test_policy_commands_take_the_settings_flags(tmp_path: Path,
                                                 command: tuple[str, ...]) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'policies = "{EXAMPLE_POLICIES}"\n', encoding="utf-8")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    for flags in (("--policies", str(EXAMPLE_POLICIES)), ("--config", str(config)),
                  ("--config", str(config), "--data", str(tmp_path / "var"))):
        done = run(*command, *flags, cwd=elsewhere)
        assert done.returncode == 0, (flags, done.stderr)
    missing = run(*command, "--config", str(tmp_path / "nope.toml"), cwd=elsewhere)
    assert missing.returncode == 2 and "configuration file not found" in missing.stderr
    empty = run(*command, "--policies", str(tmp_path), cwd=elsewhere)
    assert empty.returncode == 1 and empty.stdout.count("\n") + empty.stderr.count("\n") >= 1


def test_two_policy_directories_are_refused(tmp_path: Path) -> None:
    done = run("policy", "check", str(EXAMPLE_POLICIES), "--policies", str(tmp_path))
    assert done.returncode == 2 and "name two directories" in done.stderr


def test_an_unusable_data_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    for args in (("audit",), ("held", "list"), ("reviewers", "list")):
        done = run(*args, "--data", str(blocker / "var"))
        assert done.returncode in (1, 2) and done.stderr.startswith("stampgate: "), args
