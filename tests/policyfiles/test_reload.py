"""What a running gateway calls on a policy change: the last good policy stays in force."""

from __future__ import annotations

import os
from pathlib import Path

from gateway.policyfiles.load import load_policy, policy_fingerprint, reload_policy
from tests.policyfiles.conftest import EXAMPLE


def test_a_valid_change_is_taken(policies: Path) -> None:
    current = load_policy(policies)
    members = policies / "groups" / "communications.toml"
    members.write_text(members.read_text().replace(
        '"press@example.org"]', '"press@example.org", "social@example.org"]'))
    new, error = reload_policy(policies, current)
    assert error is None
    assert new.version != current.version
    assert new.groups_of("social@example.org", "example.org") == {"communications"}


def test_an_invalid_change_keeps_the_last_good_policy(policies: Path) -> None:
    current = load_policy(policies)
    (policies / "rules.toml").write_text("[internal\n")
    kept, error = reload_policy(policies, current)
    assert kept is current
    assert error is not None
    assert [(p.file, p.key, p.line) for p in error.problems] == [("rules.toml", "(syntax)", 1)]


def test_an_unchanged_policy_has_the_same_version(policies: Path) -> None:
    current = load_policy(policies)
    new, error = reload_policy(policies, current)
    assert error is None
    assert new.version == current.version == load_policy(EXAMPLE).version


def test_test_cases_are_not_part_of_the_version(policies: Path) -> None:
    before = load_policy(policies).version
    (policies / "tests" / "more.toml").write_text("# nothing yet\n")
    assert load_policy(policies).version == before


def test_the_fingerprint_changes_when_a_file_changes(policies: Path) -> None:
    before = policy_fingerprint(policies)
    assert [name for name, _, _ in before] == [
        "organisation.toml", "stamps.toml", "rules.toml", "labels.toml", "photos.toml",
        "partners.toml", "groups/communications.toml", "groups/management.toml"]
    assert policy_fingerprint(policies) == before
    rules = policies / "rules.toml"
    stat = rules.stat()
    rules.write_text(rules.read_text() + "\n")
    os.utime(rules, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert policy_fingerprint(policies) != before
    (policies / "groups" / "new.toml").write_text('members = ["a@example.org"]\n')
    assert "groups/new.toml" in [name for name, _, _ in policy_fingerprint(policies)]


def test_overrides_check_a_change_before_it_is_written(policies: Path) -> None:
    policy = load_policy(policies, overrides={"groups/new.toml": 'members = ["a@x.test"]\n'})
    assert policy.groups_of("a@x.test", "x.test") == {"new"}
    assert not (policies / "groups" / "new.toml").exists()
