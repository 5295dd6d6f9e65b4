"""``policies/partners.toml``: optional, off in the example, validated by ``policy check``
with file, line and hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.model import Stamp
from gateway.core.partners import Tlp, Writer
from gateway.policyfiles.load import PolicyError, load_policy, policy_fingerprint
from tests.policyfiles.conftest import Run


def test_the_example_writes_labels_for_nobody(policies: Path, run: Run) -> None:
    assert load_policy(policies).partners.partners == {}
    status, out, _ = run("policy", "check", str(policies))
    assert status == 0
    assert "  partners: none (no labels are written)" in out


def uncommented_example(policies: Path) -> str:
    """The worked example of the shipped file with its comment marks taken off."""
    lines = (policies / "partners.toml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# [partners."))
    return "\n".join(lines[:start] + [
        line[2:] if line.startswith("# ") and not line.startswith("# How") else ""
        for line in lines[start:]]) + "\n"


def test_the_worked_example_is_a_valid_policy(policies: Path, run: Run) -> None:
    (policies / "partners.toml").write_text(uncommented_example(policies))
    partners = load_policy(policies).partners
    assert partners.partners["unhcr.org"].writers == {Writer.TLP, Writer.SIO_LABEL}
    assert partners.partners["unhcr.org"].subject_tag
    assert partners.tlp_for(Stamp.INTERNAL) is Tlp.AMBER_STRICT
    status, out, _ = run("policy", "check", str(policies))
    assert status == 0
    assert ("  partners: homeaffairs.gov.au protective-marking, tlp; unhcr.org and subdomains "
            "tlp, sio-label + subject tag") in out


def test_a_running_gateway_notices_the_file(policies: Path) -> None:
    before = policy_fingerprint(policies)
    (policies / "partners.toml").write_text('[partners."unhcr.test"]\nwrite = ["tlp"]\n# x\n')
    assert policy_fingerprint(policies) != before


HEAD = '[partners."unhcr.test"]\n'


@pytest.mark.parametrize(("text", "expected"), [
    (HEAD + 'write = ["tpl"]\n',
     "partners.toml:2: partners.unhcr.test.write: is not a label the gateway writes "
     "(value: 'tpl'); hint: did you mean 'tlp'? the writers are tlp, protective-marking, "
     "sio-label"),
    (HEAD + 'write = ["tlp", "tlp"]\n',
     "partners.toml:2: partners.unhcr.test.write: is listed twice (value: 'tlp')"),
    (HEAD + "write = []\n", "partners.toml:2: partners.unhcr.test.write: must not be empty"),
    (HEAD + 'write = "tlp"\n', "partners.toml:2: partners.unhcr.test.write: must be a list"),
    (HEAD + "subject_tag = true\n", "partners.toml:1: partners.unhcr.test.write: is required"),
    ('[partners."unhcr"]\nwrite = ["tlp"]\n',
     "partners.toml:1: partners.unhcr: is not a domain name (value: 'unhcr'); hint: write it "
     "like unhcr.org"),
    ('[partners."*.unhcr.test"]\nwrite = ["tlp"]\n',
     "partners.toml:1: partners.*.unhcr.test: is not a domain name (value: '*.unhcr.test'); "
     'hint: write "unhcr.test" and, for its subdomains, include_subdomains = true'),
    ('[partners."UNHCR.test"]\nwrite = ["tlp"]\n' + HEAD + 'write = ["tlp"]\n',
     "partners.unhcr.test: is listed twice (domains ignore case)"),
    (HEAD + 'write = ["tlp"]\nsubjet_tag = true\n',
     "partners.toml:3: partners.unhcr.test.subjet_tag: is not a known key (value: True); "
     "hint: did you mean 'subject_tag'?"),
    (HEAD + 'write = ["sio-label"]\nsubject_tag = true\n',
     'partners.toml:1: partners.unhcr.test: subject_tag writes the TLP label: add "tlp" to '
     "write, or remove subject_tag"),
    ('[partners."example.org"]\nwrite = ["tlp"]\n',
     "partners.toml:1: partners.example.org: covers the organisation's own domain "
     "'example.org'"),
    ('[partner."unhcr.test"]\nwrite = ["tlp"]\n',
     "partners.toml: partner: is not a known key"),
    ('[tlp]\ninternal = "ORANGE"\n',
     "partners.toml:2: tlp.internal: is not one of the choices (value: 'ORANGE'); hint: write "
     "'CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT' or 'RED'"),
    ('[tlp]\nsecret = "RED"\n', "partners.toml:2: tlp.secret.[key]: is not a stamp"),
    ('[protective_marking]\nsec = { internal = "SECRETISH" }\n',
     "partners.toml:1: protective_marking: sec.internal = 'SECRETISH' is not a value of "
     "NS=gov.au; write one of UNOFFICIAL, OFFICIAL, OFFICIAL:Sensitive, PROTECTED, SECRET, "
     "TOP-SECRET"),
    ('[protective_marking]\nns = "example.org"\nsec = { internal = "A, SEC=B" }\n',
     "sec.internal = 'A, SEC=B' may hold only letters, digits and : . _ / -"),
    ('[protective_marking]\nversion = "latest"\n',
     "protective_marking: version 'latest' is not a standard's version like 2018.4"),
    ('[sio_label]\npolicy_id = "1.99.3"\n',
     "partners.toml:2: sio_label.policy_id: '1.99.3' is not an object identifier"),
    ('[sio_label]\npolicy_id = "urn:example:policy"\n',
     "sio_label.policy_id: 'urn:example:policy' is not an object identifier"),
    ('[partners."unhcr.test"\n', "partners.toml:1: (syntax): not valid TOML"),
])
def test_policy_check_names_the_problem(policies: Path, run: Run, text: str,
                                        expected: str) -> None:
    (policies / "partners.toml").write_text(text)
    with pytest.raises(PolicyError):
        load_policy(policies)
    status, out, _ = run("policy", "check", str(policies))
    assert status == 1
    assert expected in out


def test_every_problem_is_reported_at_once(policies: Path) -> None:
    (policies / "partners.toml").write_text(
        '[partners."bad"]\nwrite = ["tlp"]\n[partners."ok.test"]\nwrite = ["tpl"]\n'
        '[tlp]\ninternal = "ORANGE"\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(policies)
    keys = [problem.key for problem in caught.value.problems]
    assert keys == ["partners.bad", "partners.ok.test.write", "tlp.internal"]


def test_policy_explain_shows_what_partners_copies_carry(policies: Path, run: Run) -> None:
    (policies / "partners.toml").write_text(uncommented_example(policies))
    status, out, _ = run("policy", "explain", "--policies", str(policies),
                         "--from", "alice@example.org", "--to", "ana@unhcr.org",
                         "--to", "omar@geneva.unhcr.org", "--to", "bob@example.org",
                         "--to", "officer@homeaffairs.gov.au", "--stamp", "Needs adjustment")
    assert status == 0
    assert out.endswith(
        "labels for partners:\n"
        "  ana@unhcr.org, omar@geneva.unhcr.org: X-TLP: TLP:AMBER+STRICT; SIO-Label: "
        'marking="NEEDS ADJUSTMENT"; type=":ess"; label="MSsCAQIGFGmChbe8kLrogqi5jauPnuSxtIdQ'
        'ExBORUVEUyBBREpVU1RNRU5U"; subject tagged [TLP:AMBER+STRICT]\n'
        "  officer@homeaffairs.gov.au: X-TLP: TLP:AMBER+STRICT; X-Protective-Marking: "
        "VER=2018.4, NS=gov.au, SEC=OFFICIAL:Sensitive\n")
    status, out, _ = run("policy", "explain", "--policies", str(policies),
                         "--from", "alice@example.org", "--to", "x@news.test",
                         "--stamp", "Cleared for publication")
    assert status == 0 and "labels for partners" not in out
