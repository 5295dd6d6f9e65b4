"""labels.toml: ``policy check`` validates it with clear errors; ``policy explain`` names the
label that decided."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.model import Stamp
from gateway.policyfiles.load import load_policy
from tests.policyfiles.conftest import EXAMPLE, Run
from tests.support.documents import GUID, mail, xlsx


def test_the_example_maps_purview_labels(run: Run) -> None:
    policy = load_policy(EXAMPLE)
    assert policy.labels.msip["Highly Confidential"] is Stamp.CONFIDENTIAL
    status, out, _ = run("policy", "check", str(EXAMPLE))
    assert status == 0
    assert "labels: msip 5 mapped; an unmapped label is unreadable" in out


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
