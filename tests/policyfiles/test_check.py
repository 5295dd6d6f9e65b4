"""``stampgate policy check``: a clean policy, and every class of error it reports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.policyfiles.load import PolicyError, load_policy, locate
from tests.policyfiles.conftest import EXAMPLE, Run

ROOT = EXAMPLE.parent


def test_the_example_policy_is_clean(run: Run) -> None:
    status, out, _ = run("policy", "check", str(EXAMPLE))
    assert status == 0
    version = load_policy(EXAMPLE).version
    assert out.startswith(f"policy OK (version {version})")
    assert "groups: communications 2 members, management 2 members" in out
    assert "reviewers: management" in out


def test_check_runs_as_a_module_from_the_project_root() -> None:
    done = subprocess.run([sys.executable, "-m", "gateway", "policy", "check", "policies"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("policy OK (version ")


def test_a_broken_policy_exits_1_as_a_module(policies: Path) -> None:
    (policies / "groups" / "empty.toml").write_text('description = "nobody"\n')
    done = subprocess.run([sys.executable, "-m", "gateway", "policy", "check", str(policies)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "groups/empty.toml: members: the group is empty" in done.stdout
    assert "1 problem: the policy was not loaded" in done.stdout


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _cycle(policies: Path) -> None:
    _write(policies / "groups" / "a.toml", 'include = ["b"]\n')
    _write(policies / "groups" / "b.toml", 'include = ["a"]\n')


# Each class of error: how to break the copy, and what the report must say.
# (breakage, file:line, key, value, words of the message, words of the hint)
BROKEN: dict[str, tuple[Callable[[Path], object], str, str, str, str, str]] = {
    "unknown group in a rule": (
        lambda p: _replace(p / "rules.toml", 'groups = { communications = "bounce" }',
                           'groups = { comunications = "bounce" }'),
        "rules.toml:24", "internal.groups.comunications", "",
        "names unknown group 'comunications'", "did you mean 'communications'?"),
    "duplicate member": (
        lambda p: _write(p / "groups" / "communications.toml",
                         'members = [\n  "comms@example.org",\n  "press@example.org",\n'
                         '  "Press@Example.org",\n]\n'),
        "groups/communications.toml:4", "members", "'Press@Example.org'",
        "member is listed twice", "remove one"),
    "member that is not an address": (
        lambda p: _write(p / "groups" / "communications.toml",
                         'members = [\n  "comms@example.org",\n  "press at example.org",\n]\n'),
        "groups/communications.toml:3", "members", "'press at example.org'",
        "is not a valid address", "name@example.org"),
    "whole-domain member that is not a domain": (
        lambda p: _write(p / "groups" / "partners.toml", 'members = ["@partner"]\n'),
        "groups/partners.toml:1", "members", "'@partner'",
        "is not a whole-domain member", "@partner.test"),
    "member with a plus suffix": (
        lambda p: _write(p / "groups" / "partners.toml", 'members = ["press+x@example.org"]\n'),
        "groups/partners.toml:1", "members", "'press+x@example.org'",
        "can never match", "list press@example.org instead"),
    "domain listed twice": (
        lambda p: _replace(p / "organisation.toml", 'domains = ["example.org"]',
                           'domains = ["example.org", "Example.org."]'),
        "organisation.toml:5", "domains", "'Example.org.'",
        "domain is listed twice", "remove one"),
    "domain that is not a domain": (
        lambda p: _replace(p / "organisation.toml", 'domains = ["example.org"]',
                           'domains = ["example"]'),
        "organisation.toml:5", "domains", "'example'", "is not a domain name", "example.org"),
    "phrase that collides with another stamp": (
        lambda p: _replace(p / "stamps.toml", '"Interne", ', '"Interne", "Confidentiel", '),
        "stamps.toml:117", "confidential.phrases", "'Confidentiel'",
        "collides with the phrase 'Confidentiel' of internal",
        "a phrase may name only one stamp"),
    "phrase that is another stamp's name": (
        lambda p: _replace(p / "stamps.toml", '"Interne", ', '"Confidential ", '),
        "stamps.toml:96", "internal.phrases", "'Confidential '",
        "collides with the name of the stamp confidential", "a phrase may name only one stamp"),
    "empty group": (
        lambda p: _write(p / "groups" / "empty.toml", 'description = "nobody yet"\n'),
        "groups/empty.toml", "members", "", "the group is empty", "list members"),
    "TOML syntax error": (
        lambda p: _replace(p / "organisation.toml", 'plus_separator = "+"',
                           'plus_separator = "+'),
        "organisation.toml:8", "(syntax)", "", "not valid TOML", "check quotes"),
    "key given twice": (
        lambda p: _replace(p / "rules.toml", 'external = "allow"\n',
                           'external = "allow"\nexternal = "hold"\n'),
        "rules.toml:13", "(syntax)", "", "not valid TOML", "a key may appear only once"),
    "unknown key": (
        lambda p: _replace(p / "rules.toml", 'external = "bounce"', 'extrnal = "bounce"'),
        "rules.toml:23", "internal.extrnal", "'bounce'", "is not a known key",
        "did you mean 'external'?"),
    "missing key": (
        lambda p: _replace(p / "rules.toml", 'external = "bounce"\n', ""),
        "rules.toml:20", "internal.external", "", "is required", "add it"),
    "bad verdict": (
        lambda p: _replace(p / "rules.toml", 'external = "bounce"', 'external = "maybe"'),
        "rules.toml:23", "internal.external", "'maybe'", "is not a verdict",
        "allow, hold, bounce"),
    "unknown stamp table": (
        lambda p: _write(p / "stamps.toml", (p / "stamps.toml").read_text(encoding="utf-8")
                         + '\n[secret]\nphrases = ["Secret"]\n'),
        "stamps.toml:136", "secret", "", "is not a stamp", "the stamps are cleared"),
    "unknown reviewers group": (
        lambda p: _replace(p / "organisation.toml", 'reviewers = "management"',
                           'reviewers = "managers"'),
        "organisation.toml:11", "reviewers", "'managers'", "names unknown group 'managers'",
        "did you mean 'management'?"),
    "unknown included group": (
        lambda p: _write(p / "groups" / "everyone.toml", 'include = ["management", "staff"]\n'),
        "groups/everyone.toml:1", "include", "'staff'", "names unknown group 'staff'",
        "groups are"),
    "groups that include each other": (
        _cycle,
        "groups/a.toml:1", "include", "'a -> b -> a'", "cycle", "may not include itself"),
    "group file name that is not a group name": (
        lambda p: _write(p / "groups" / "Press Team.toml", 'members = ["a@example.org"]\n'),
        "groups/Press Team.toml:", "(file name)", "'Press Team'", "group file name",
        "rename the file"),
    "missing file": (
        lambda p: (p / "rules.toml").unlink(),
        "rules.toml", "(file)", "", "file is missing", "create"),
    "file that is not UTF-8": (
        lambda p: (p / "organisation.toml").write_bytes(b'name = "Caf\xe9"\ndomains = []\n'),
        "organisation.toml", "(file)", "", "not UTF-8", "save the file as UTF-8"),
    "list written as text": (
        lambda p: _replace(p / "organisation.toml", 'domains = ["example.org"]',
                           'domains = "example.org"'),
        "organisation.toml:5", "domains", "'example.org'", "must be a list", '["a", "b"]'),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_each_error_is_reported_with_file_line_key_value_and_hint(
        case: str, policies: Path, run: Run) -> None:
    breakage, where, key, value, message, hint = BROKEN[case]
    breakage(policies)
    status, out, err = run("policy", "check", str(policies))
    assert status == 1
    assert err == ""
    lines = [line for line in out.splitlines() if f": {key}: " in line]
    assert lines, out
    line = lines[0]
    assert f"{policies}/{where}" in line
    assert message in line
    if value:
        assert f"(value: {value})" in line
    assert f"hint: {hint}" in line or hint in line.split("hint: ", 1)[1]
    assert out.splitlines()[-1].endswith(
        "the policy was not loaded (a running gateway keeps its last good policy)")


def test_every_problem_is_reported_at_once(policies: Path, run: Run) -> None:
    _replace(policies / "rules.toml", 'external = "bounce"', 'external = "bouce"')
    _replace(policies / "rules.toml", 'groups = { communications = "hold" }',
             'groups = { comms = "hold" }')
    _replace(policies / "organisation.toml", 'domains = ["example.org"]',
             'domains = ["example.org", "example.org", "bad domain"]')
    _write(policies / "groups" / "partners.toml",
           'members = ["a@partner.test", "nobody", "a@partner.test", "@x"]\n')
    _write(policies / "groups" / "broken.toml", 'members = [\n')
    status, out, _ = run("policy", "check", str(policies))
    assert status == 1
    for expected in ("internal.external: is not a verdict (value: 'bouce')",
                     "needs_adjustment.groups.comms: names unknown group 'comms'",
                     "domains: domain is listed twice (value: 'example.org')",
                     "domains: is not a domain name (value: 'bad domain')",
                     "members: is not a valid address (value: 'nobody')",
                     "members: member is listed twice (value: 'a@partner.test')",
                     "members: is not a whole-domain member (value: '@x')",
                     "groups/broken.toml:1: (syntax): not valid TOML"):
        assert expected in out, out
    assert out.splitlines()[-1].startswith("8 problems:")


def test_a_group_with_a_broken_file_is_not_also_reported_unknown(policies: Path) -> None:
    _write(policies / "groups" / "communications.toml", 'members = ["press"]\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(policies)
    assert [p.message for p in caught.value.problems] == ["is not a valid address"]


def test_a_missing_directory_is_one_clear_problem(tmp_path: Path, run: Run) -> None:
    status, out, _ = run("policy", "check", str(tmp_path / "nowhere"))
    assert status == 1
    assert "policy directory not found" in out


def test_locate_finds_tables_inline_keys_and_arrays_of_tables() -> None:
    text = ('# comment with internal\n[internal]\norganisation = "allow"\n'
            'groups = { communications = "bounce", press = "hold" }\n'
            '[[case]]\nname = "a"\n[[case]]\nname = "b"\nto = ["x@y.test"]\n')
    assert locate(text, ("internal",)) == 2
    assert locate(text, ("internal", "groups", "press")) == 4
    assert locate(text, ("internal", "external")) == 2  # missing: its table
    assert locate(text, ("case", "1", "to")) == 9
    assert locate(text, ("case", "1", "to"), "x@y.test") == 9
    assert locate(text, ("nothing",)) is None
