"""``stampgate policy explain --rules``: the rule table and the policy's audience rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.core.rules import RULES
from gateway.policyfiles.load import load_policy
from tests.policyfiles.conftest import EXAMPLE, Run

ROOT = EXAMPLE.parent


def _listed(out: str) -> list[str]:
    """The rule names of the numbered lines, in the order printed."""
    names = []
    for line in out.splitlines():
        number, _, rest = line.strip().partition(". ")
        if number.isdigit():
            names.append(rest.split()[0])
    return names


def test_rules_through_the_installed_entry_point() -> None:
    stampgate = Path(sys.executable).with_name("stampgate")  # the console script
    done = subprocess.run([str(stampgate), "policy", "explain", "--rules"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"policy version {load_policy(EXAMPLE).version} (policies)"
    assert _listed(done.stdout) == ["thread-inherit", "label-header", "label-conflict",
                                    "downgrade-permitted", "STAMP.AUDIENCE",
                                    "downgrade", "unreadable.AUDIENCE", "attachment-unreadable",
                                    "photo-metadata", "photo-faces", "register", "thread-newcomer",
                                    "adjustment-count"]
    for rule in RULES:
        assert any(line.endswith(f"  {rule.description}") for line in lines), rule.name


def test_audience_rules_show_the_policy_verdicts_in_the_order_they_are_tried(run: Run) -> None:
    status, out, err = run("policy", "explain", "--rules", "--policies", str(EXAMPLE))
    assert status == 0, err
    lines = [line.split() for line in out.splitlines()]
    at = lines.index(["[internal]:", "Internal:", "the", "organisation,", "except",
                      "communications."])
    assert lines[at + 1:at + 4] == [["internal.groups.communications", "bounce"],
                                    ["internal.external", "bounce"],
                                    ["internal.organisation", "allow"]]
    at = next(i for i, line in enumerate(lines) if line[:1] == ["[confidential]:"])
    assert [line[0] for line in lines[at + 1:at + 5]] == [
        "confidential.groups.communications", "confidential.external", "confidential.thread",
        "confidential.organisation"]
    assert ["unreadable.external", "hold"] in lines
    assert ["unstamped.groups.communications", "bounce"] in lines


def test_the_listing_follows_the_loaded_policy(policies: Path, run: Run) -> None:
    rules = policies / "rules.toml"
    rules.write_text(rules.read_text().replace(
        '[cleared]\ndescription = "Cleared for publication: anyone."\norganisation = "allow"\n'
        'external = "allow"\n',
        '[cleared]\ndescription = "Cleared, but never to the press."\norganisation = "allow"\n'
        'external = "allow"\ngroups = { communications = "hold" }\n'))
    status, out, _ = run("policy", "explain", "--rules", "--policies", str(policies))
    assert status == 0
    assert "  [cleared]: Cleared, but never to the press." in out
    assert ["cleared.groups.communications", "hold"] in [line.split() for line in
                                                          out.splitlines()]


def test_an_invalid_policy_is_reported_not_listed(policies: Path, run: Run) -> None:
    (policies / "rules.toml").write_text("[cleared\n")
    status, out, err = run("policy", "explain", "--rules", "--policies", str(policies))
    assert status == 1
    assert out == ""
    assert "rules.toml:1: (syntax)" in err


@pytest.mark.parametrize("extra", [["--to", "press@example.org"], ["--stamp", "internal"],
                                   ["--json"]])
def test_rules_take_no_message(extra: list[str], run: Run,
                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run("policy", "explain", "--rules", "--policies", str(EXAMPLE), *extra)
    assert caught.value.code == 2
    assert f"leave out {extra[0]}" in capsys.readouterr().err


def test_a_message_still_needs_its_sender_recipients_and_stamp(
        run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run("policy", "explain", "--policies", str(EXAMPLE), "--from", "amira@example.org")
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "required: --to, one of --stamp, --message (or --rules)" in err


def test_help_names_the_rules_option(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("policy", "explain", "--help")
    out = capsys.readouterr().out
    assert "--rules" in out and "in the order they run" in " ".join(out.split())
