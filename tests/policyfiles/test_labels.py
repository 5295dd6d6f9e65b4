"""labels.toml: ``policy check`` validates it with clear errors; ``policy explain`` names the
label that decided."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.model import Stamp
from gateway.policyfiles.load import load_policy
from tests.policyfiles.conftest import EXAMPLE, Run
from tests.support.documents import GUID, mail, xlsx

TLP = ('[labels.tlp]\n"TLP:CLEAR" = "cleared"\n"TLP:GREEN" = "internal"\n"TLP:AMBER" = "internal"\n'
       '"TLP:AMBER+STRICT" = "internal"\n"TLP:RED" = "confidential"\n')


def test_the_example_maps_purview_labels(run: Run) -> None:
    policy = load_policy(EXAMPLE)
    assert policy.labels.msip["Highly Confidential"] is Stamp.CONFIDENTIAL
    status, out, _ = run("policy", "check", str(EXAMPLE))
    assert status == 0
    assert ("labels: msip 5 mapped; tlp 5 mapped; protective-marking gov.au 6 mapped, "
            "govt.nz 7 mapped; sio not read; an unmapped label is unreadable") in out
    assert policy.labels.tlp["TLP:GREEN"] is Stamp.INTERNAL
    assert policy.labels.protective_marking["gov.au"]["UNOFFICIAL"] is None


def test_without_labels_toml_no_label_maps(policies: Path, run: Run) -> None:
    (policies / "labels.toml").unlink()
    assert load_policy(policies).labels.msip == {}
    assert run("policy", "check", str(policies))[0] == 0


@pytest.mark.parametrize(("text", "expected"), [
    ('[labels.msip]\n"Public" = "clear"\n',
     "labels.toml:2: labels.msip.Public: is not a stamp (value: 'clear'); hint: the stamps are "
     "cleared, needs_adjustment, internal, confidential"),
    ('[labels]\nunknown = "maybe"\n',
     "labels.toml:2: labels.unknown: Input should be 'unreadable' or 'ignore' (value: 'maybe')"),
    ('[labels.msip]\n"Secret" = "confidential"\n"SECRET " = "internal"\n',
     "labels 'Secret' and 'SECRET ' are the same label"),
    (f'[labels.msip]\n"{GUID}" = "internal"\n"{{{GUID.upper()}}}" = "cleared"\n',
     "are the same label"),
    ('[labels.msip]\n"  " = "internal"\n', "label name '  ' is empty once normalised"),
    ('[labels]\ncolour = "red"\n', "labels.colour: is not a known key"),
    ('[tlp]\nred = "confidential"\n',
     "labels.toml:1: tlp: does not belong in labels.toml; hint: put the label tables under "
     "[labels]"),
    ("[labels.msip\n", "labels.toml:1: (syntax): not valid TOML"),
    # TLP: an unknown colour, a colour twice, a colour left out, a value that is no stamp.
    (TLP.replace('"TLP:GREEN"', '"TLP:BLUE"'),
     "labels.toml:3: labels.tlp.TLP:BLUE: 'TLP:BLUE' is not a TLP colour (value: 'TLP:BLUE'); "
     "hint: "
     "the colours are TLP:RED, TLP:AMBER+STRICT, TLP:AMBER, TLP:GREEN, TLP:CLEAR"),
    (TLP + '"white" = "internal"\n',
     "labels.toml:7: labels.tlp.white: 'TLP:CLEAR' and 'white' are the same colour "
     "(value: 'white')"),
    (TLP.replace('"TLP:AMBER+STRICT" = "internal"\n', ""),
     "labels.toml:1: labels.tlp: maps some TLP colours but not TLP:AMBER+STRICT: map every "
     "colour"),
    (TLP.replace('"TLP:RED" = "confidential"', '"TLP:RED" = "secret"'),
     "labels.toml:6: labels.tlp.TLP:RED: is not a stamp (write one of cleared, "
     "needs_adjustment, internal, confidential, or none) (value: 'secret')"),
    # Protective markings: a value the namespace does not have, the same value twice.
    ('[labels.protective-marking."gov.au"]\n"OFFICIAL" = "internal"\n"SENSITIVE" = "internal"\n',
     "labels.toml:3: labels.protective-marking.gov.au.SENSITIVE: 'SENSITIVE' is not a "
     "classification of gov.au (value: 'SENSITIVE'); hint: the classifications are "
     "unofficial, official, official:sensitive"),
    ('[labels.protective-marking."gov.au"]\n"OFFICIAL:Sensitive" = "internal"\n'
     '"official : sensitive" = "confidential"\n',
     "'OFFICIAL:Sensitive' and 'official : sensitive' are the same classification"),
    ('[labels.protective-marking."not a domain"]\n"X" = "internal"\n',
     "'not a domain' is not a namespace"),
    # SIO-Label: a policy that is no object identifier, a classification that is no number.
    ('[labels.sio."partner policy"]\n"1" = "internal"\n',
     "'partner policy' is not a security policy identifier"),
    ('[labels.sio."1.2.3"]\n"very secret" = "internal"\n',
     "labels.toml:2: labels.sio.1.2.3.very secret: 'very secret' is not a classification"),
    ('[labels.sio."1.2.3"]\n"3" = "internal"\n"confidential" = "confidential"\n',
     "'3' and 'confidential' are the same classification"),
    ('labels = "all"\n', "labels.toml:1: labels: must be a table"),
])
def test_check_names_the_file_the_key_and_the_bad_value(policies: Path, run: Run, text: str,
                                                        expected: str) -> None:
    (policies / "labels.toml").write_text(text)
    status, out, _ = run("policy", "check", str(policies))
    assert status == 1
    assert expected in out, out
    assert "the policy was not loaded" in out


def test_explain_shows_which_label_decided(tmp_path: Path, run: Run) -> None:
    header = f"MSIP_Label_{GUID}_Enabled=True; MSIP_Label_{GUID}_Name=Highly Confidential"
    eml = tmp_path / "labelled.eml"
    eml.write_bytes(mail("The story.", [("budget.xlsx", xlsx(["Budget"], label="General"))],
                         headers={"msip_labels": header}))
    status, out, _ = run("policy", "explain", "--policies", str(EXAMPLE), "--from",
                         "alice@example.org", "--to", "partner@outside.test",
                         "--message", str(eml))
    assert status == 0, out
    assert "found in a sensitivity label (msip_labels header)" in out
    assert (f"read from: Confidential: label 'Highly Confidential' ({GUID}) in the "
            "msip_labels header") in out
    assert f"read from: Internal: label 'General' ({GUID}) in budget.xlsx" in out
    assert "BOUNCE" in out


def test_explain_shows_the_tlp_marker_and_the_conflict(tmp_path: Path, run: Run) -> None:
    eml = tmp_path / "tlp.eml"
    eml.write_bytes(mail("Cleared for publication\n\nThe figures.", [],
                         subject="[TLP:RED] figures"))
    status, out, _ = run("policy", "explain", "--policies", str(EXAMPLE), "--from",
                         "alice@example.org", "--to", "partner@outside.test",
                         "--message", str(eml))
    assert status == 0, out
    assert "read from: Confidential: label TLP:RED" in out
    assert ("conflict: the stamp Cleared for publication (body) and the label TLP:RED "
            "(subject) disagree: the label maps to Confidential") in out
    assert "BOUNCE" in out


def test_explain_shows_the_label_header_that_decided(tmp_path: Path, run: Run) -> None:
    eml = tmp_path / "marked.eml"
    eml.write_bytes(mail("The figures.", [], headers={
        "X-Protective-Marking": "VER=2018.4, NS=gov.au, SEC=PROTECTED, ORIGIN=a@b.gov.au"}))
    status, out, _ = run("policy", "explain", "--policies", str(EXAMPLE), "--from",
                         "alice@example.org", "--to", "partner@outside.test",
                         "--message", str(eml))
    assert status == 0, out
    assert "found in a partner's label header" in out
    assert ("SEC=PROTECTED (NS=gov.au) in the X-Protective-Marking header says Confidential, "
            "stricter than no stamp") in out
