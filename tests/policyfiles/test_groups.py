"""Groups: members by address, by whole domain and through nested groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.policyfiles.load import PolicyError, load_policy
from gateway.policyfiles.testing import Scenario, decide_scenario


def _groups(policies: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (policies / "groups" / f"{name}.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def nested(policies: Path) -> Path:
    _groups(policies, {
        "partners": 'members = ["@partner.test", "Liaison@Other.test."]\n',
        "campaigns": 'members = ["campaigns@example.org"]\ninclude = ["partners"]\n',
        "communications": 'members = ["press@example.org"]\ninclude = ["campaigns"]\n',
    })
    return policies


def test_members_by_address_domain_and_include(nested: Path) -> None:
    policy = load_policy(nested)
    assert policy.groups_of("press@example.org", "example.org") == {"communications"}
    assert policy.groups_of("campaigns@example.org", "example.org") == {
        "campaigns", "communications"}
    assert policy.groups_of("anyone@partner.test", "partner.test") == {
        "partners", "campaigns", "communications"}
    assert policy.groups_of("liaison@other.test", "other.test") == {
        "partners", "campaigns", "communications"}
    assert policy.groups_of("someone@other.test", "other.test") == frozenset()
    # a whole domain is that domain exactly, not its subdomains
    assert policy.groups_of("a@mail.partner.test", "mail.partner.test") == frozenset()
    assert policy.members_of("communications") == {
        "press@example.org", "campaigns@example.org", "@partner.test", "liaison@other.test"}


def test_a_nested_member_gets_the_outer_groups_verdict(nested: Path) -> None:
    policy = load_policy(nested)
    decision = decide_scenario(policy, Scenario(
        "amira@example.org", ("someone@partner.test", "campaigns+x@example.org"), "internal"))
    verdicts = {r.address: (r.verdict.value, r.rule) for r in decision.recipients}
    assert verdicts == {
        "someone@partner.test": ("bounce", "internal.groups.communications"),
        "campaigns+x@example.org": ("bounce", "internal.groups.communications"),
    }


def test_the_strictest_group_wins(policies: Path) -> None:
    _groups(policies, {"board": 'members = ["press@example.org"]\n'})
    rules = policies / "rules.toml"
    rules.write_text(rules.read_text().replace(
        'groups = { communications = "hold" }\n\n[internal]',
        'groups = { communications = "hold", board = "allow" }\n\n[internal]'))
    policy = load_policy(policies)
    assert set(policy.rules.needs_adjustment.groups) == {"communications", "board"}
    decision = decide_scenario(policy, Scenario("amira@example.org", ("press@example.org",),
                                                "needs_adjustment"))
    [recipient] = decision.recipients
    assert recipient.groups == ("board", "communications")
    assert (recipient.verdict.value, recipient.rule) == (
        "hold", "needs_adjustment.groups.communications")


def test_an_include_cycle_is_refused(policies: Path) -> None:
    _groups(policies, {"a": 'include = ["b"]\n', "b": 'include = ["c"]\n',
                       "c": 'include = ["a"]\n'})
    with pytest.raises(PolicyError) as caught:
        load_policy(policies)
    [problem] = caught.value.problems
    assert problem.value == "'a -> b -> c -> a'"
    assert problem.message == "groups include each other in a cycle"


def test_a_group_of_only_includes_is_not_empty(policies: Path) -> None:
    _groups(policies, {"everyone": 'include = ["management", "communications"]\n'})
    policy = load_policy(policies)
    assert len(policy.members_of("everyone")) == 4
