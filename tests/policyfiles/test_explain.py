"""``stampgate policy explain``: every row of the stamp table, in words and as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.policyfiles.load import load_policy
from tests.policyfiles.conftest import EXAMPLE, Run

STAFF = "amira@example.org"
MANAGER = "director@example.org"
COMMS = "press@example.org"
OUTSIDE = "reporter@news.test"


@dataclass(frozen=True)
class Row:
    stamp: str
    recipients: dict[str, tuple[str, str, str]]  # address: (verdict, audience, rule)
    outcome: str
    label: str
    thread: tuple[str, ...] = field(default=())


ROWS = {
    "cleared: anyone": Row(
        "Cleared for publication",
        {MANAGER: ("allow", "organisation", "cleared.organisation"),
         COMMS: ("allow", "organisation", "cleared.organisation"),
         OUTSIDE: ("allow", "external", "cleared.external")},
        "ALLOW: accepted (250) and delivered to every recipient", "Cleared for publication"),
    "needs adjustment: organisation now, communications and outside held": Row(
        "Needs adjustment in 2 ways: blur face, change name",
        {MANAGER: ("allow", "organisation", "needs_adjustment.organisation"),
         COMMS: ("hold", "group communications", "needs_adjustment.groups.communications"),
         OUTSIDE: ("hold", "external", "needs_adjustment.external")},
        f"HOLD: accepted (250); delivered now to {MANAGER}; held for a reviewer for "
        f"{COMMS}, {OUTSIDE}", "Needs adjustment"),
    "internal: organisation; communications and outside bounce": Row(
        "Internal",
        {MANAGER: ("allow", "organisation", "internal.organisation"),
         COMMS: ("bounce", "group communications", "internal.groups.communications"),
         OUTSIDE: ("bounce", "external", "internal.external")},
        f"BOUNCE: refused with 550 5.7.1 because of {COMMS}, {OUTSIDE}; "
        "nothing is delivered to anyone", "Internal"),
    "confidential: participants allowed, newcomer held, communications and outside bounce": Row(
        "Confidential",
        {MANAGER: ("allow", "thread", "confidential.thread"),
         "bilal@example.org": ("hold", "organisation", "confidential.organisation"),
         COMMS: ("bounce", "group communications", "confidential.groups.communications"),
         OUTSIDE: ("bounce", "external", "confidential.external")},
        f"BOUNCE: refused with 550 5.7.1 because of {COMMS}, {OUTSIDE}; "
        "nothing is delivered to anyone", "Confidential",
        ("--thread", "confidential", "--participant", STAFF, "--participant", MANAGER)),
    "no stamp: organisation and outside; communications bounces": Row(
        "none",
        {MANAGER: ("allow", "organisation", "unstamped.organisation"),
         OUTSIDE: ("allow", "external", "unstamped.external"),
         COMMS: ("bounce", "group communications", "unstamped.groups.communications")},
        f"BOUNCE: refused with 550 5.7.1 because of {COMMS}; nothing is delivered to anyone",
        "no stamp"),
}


def _args(row: Row) -> list[str]:
    args = ["policy", "explain", "--policies", str(EXAMPLE), "--from", STAFF,
            "--stamp", row.stamp, *row.thread]
    for address in row.recipients:
        args += ["--to", address]
    return args


@pytest.mark.parametrize("name", list(ROWS), ids=list(ROWS))
def test_explain_in_words(name: str, run: Run) -> None:
    row = ROWS[name]
    status, out, err = run(*_args(row))
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"what if: a message whose first line is {row.stamp!r}"
    assert lines[1] == f"policy version {load_policy(EXAMPLE).version} ({EXAMPLE})"
    if row.stamp == "none":
        assert "stamp:    none found (unstamped mail)" in lines
    else:
        assert any(line.startswith(f"stamp:    {row.label} (") and
                   line.endswith("found in the first line of the plain-text body")
                   for line in lines), out
    assert f"outcome:  {row.outcome}" in lines
    for address, (verdict, audience, rule) in row.recipients.items():
        at = lines.index(f"  {address}: {verdict.upper()}")
        assert lines[at + 1].startswith(f"      audience {audience}; groups ")
        assert lines[at + 1].endswith(f"; rule {rule}")
        assert lines[at + 2].strip()  # the reason, in words
    fired = next(line for line in lines if line.startswith("rules fired: "))
    for _, _, rule in row.recipients.values():
        assert rule in fired


@pytest.mark.parametrize("name", list(ROWS), ids=list(ROWS))
def test_explain_as_json(name: str, run: Run) -> None:
    row = ROWS[name]
    status, out, _ = run(*_args(row), "--json")
    assert status == 0
    decision = json.loads(out)
    assert decision["stamp"] == (None if row.stamp == "none" else
                                 {"Cleared for publication": "cleared",
                                  "Internal": "internal", "Confidential": "confidential"}
                                 .get(row.stamp, "needs_adjustment"))
    assert decision["verdict"] == row.outcome.split(":")[0].lower()
    assert decision["sender"] == STAFF
    assert decision["policy_version"] == load_policy(EXAMPLE).version
    got = {r["address"]: (r["verdict"], r["audience"], r["rule"])
           for r in decision["recipients"]}
    assert got == row.recipients


def test_explain_lists_the_adjustments(run: Run) -> None:
    status, out, _ = run("policy", "explain", "--policies", str(EXAMPLE), "--from", STAFF,
                         "--to", COMMS, "--stamp",
                         "Needs adjustment in 2 ways: blur face, change name")
    assert status == 0
    assert "adjustments: blur face; change name (the stamp says 2)" in out


def test_explain_reads_a_message_file(tmp_path: Path, run: Run) -> None:
    message = tmp_path / "update.eml"
    message.write_bytes(b"From: amira@example.org\r\nSubject: [Confidential] Case 12\r\n"
                        b"X-Stamp: internal\r\n\r\nThe hearing is on Monday.\r\n")
    status, out, _ = run("policy", "explain", "--policies", str(EXAMPLE), "--from", STAFF,
                         "--to", OUTSIDE, "--message", str(message))
    assert status == 0
    assert "stamp:    Confidential (confidential), found in the Subject" in out
    assert "what if" not in out
    status, out, _ = run("policy", "explain", "--policies", str(EXAMPLE), "--from", STAFF,
                         "--to", OUTSIDE, "--message", str(message), "--json")
    assert json.loads(out)["found_in"] == ["subject"]


def test_explain_names_the_downgrade_and_the_unreadable(run: Run) -> None:
    status, out, _ = run("policy", "explain", "--policies", str(EXAMPLE), "--from", STAFF,
                         "--to", OUTSIDE, "--stamp", "cleared", "--thread", "confidential",
                         "--participant", STAFF)
    assert status == 0
    assert "downgrade:" in out and "from Confidential to Cleared for publication" in out
    assert f"  {OUTSIDE}: HOLD" in out


@pytest.mark.parametrize(("args", "words"), [
    (["--to", "x%y@example.org", "--stamp", "internal"], "to 'x%y@example.org': the percent"),
    (["--to", "bilal@", "--stamp", "internal"], "to 'bilal@': not a valid address"),
    (["--to", "bilal", "--stamp", "internal"], "to 'bilal': not a valid address"),
    (["--to", COMMS, "--stamp", "top secret"], "'top secret' is not a stamp of this policy"),
    (["--to", COMMS, "--stamp", "internal", "--thread", "secret"], "'secret' is not a stamp"),
    (["--to", COMMS, "--message", "/nonexistent/x.eml"], "--message /nonexistent/x.eml:"),
])
def test_bad_input_is_a_clear_error_with_status_2(args: list[str], words: str,
                                                  run: Run) -> None:
    status, out, err = run("policy", "explain", "--policies", str(EXAMPLE),
                           "--from", STAFF, *args)
    assert status == 2
    assert out == ""
    assert err.startswith("stampgate policy explain: error: ")
    assert words in err


def test_an_invalid_sender_is_refused(run: Run) -> None:
    status, _, err = run("policy", "explain", "--policies", str(EXAMPLE), "--from", "@@",
                         "--to", COMMS, "--stamp", "internal")
    assert status == 2
    assert "from '@@'" in err


def test_stamp_and_message_are_exclusive(run: Run) -> None:
    with pytest.raises(SystemExit) as caught:
        run("policy", "explain", "--from", STAFF, "--to", COMMS, "--stamp", "internal",
            "--message", "x.eml")
    assert caught.value.code == 2


def test_an_invalid_policy_is_reported_not_explained(policies: Path, run: Run) -> None:
    (policies / "rules.toml").write_text("[cleared\n")
    status, out, err = run("policy", "explain", "--policies", str(policies), "--from", STAFF,
                           "--to", COMMS, "--stamp", "internal")
    assert status == 1
    assert out == ""
    assert "rules.toml:1: (syntax)" in err
    assert "the policy in" in err and "is invalid" in err
