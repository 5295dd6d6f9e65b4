"""Recall and false positives of the register over the labelled corpus (docs/register.md)."""

from __future__ import annotations

import pytest

from gateway.core.decision import Decision, decide
from gateway.core.message import read_message
from gateway.core.model import Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.core.register import ClientField
from gateway.core.stamps import read_stamps
from tests.core.register_clients import CLIENTS, findings_in
from tests.core.register_corpus import Sample, benign, must_hit

MIN_RECALL = 0.95
MAX_FALSE_POSITIVES = 0.01


def decided(policy: Policy, sample: Sample) -> Decision:
    facts = read_message(sample.message)
    reading = read_stamps(facts, policy.vocabulary)
    recipient = parse_recipient(sample.recipient, policy.organisation.plus_separator)
    return decide(policy, reading, "bob@example.org", [recipient], register=findings_in(facts))


def held_by_register(decision: Decision) -> bool:
    (only,) = decision.recipients
    return only.verdict is Verdict.HOLD and only.rule == "register"


def test_the_corpus_is_large_enough() -> None:
    assert len(must_hit()) >= 150
    assert len(benign()) >= 150


def test_recall_and_false_positives(policy: Policy) -> None:
    hits = [s for s in must_hit() if held_by_register(decided(policy, s))]
    false = [s.label for s in benign() if held_by_register(decided(policy, s))]
    recall = len(hits) / len(must_hit())
    false_rate = len(false) / len(benign())
    missed = sorted({s.label for s in must_hit()} - {s.label for s in hits})
    print(f"register corpus: recall {recall:.1%} ({len(hits)}/{len(must_hit())}), "
          f"false positives {false_rate:.1%} ({len(false)}/{len(benign())})")
    assert recall >= MIN_RECALL, missed
    assert false_rate <= MAX_FALSE_POSITIVES, false


@pytest.mark.parametrize("sample", must_hit()[:40] + benign()[-20:], ids=lambda s: s.label)
def test_reasons_name_the_pseudonym_and_field_never_a_value(policy: Policy,
                                                            sample: Sample) -> None:
    decision = decided(policy, sample)
    shown = " ".join((*decision.reasons, *decision.register,
                      *(r.reason for r in decision.recipients)))
    for record in CLIENTS:
        for field, values in record.values.items():
            for value in values:
                for word in value.split():
                    if len(word) > 3 and word.lower() != record.pseudonym.lower():
                        assert word.lower() not in shown.lower(), (field, sample.label)
    if held_by_register(decision):
        assert "of client " in decision.recipients[0].reason
        assert any(f.label in decision.recipients[0].reason for f in ClientField)
