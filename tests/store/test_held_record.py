"""The held record's decision: a typed ``Decision`` on both sides of the store."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.core.decision import Decision, RecipientDecision, ThreadContext, decide
from gateway.core.message import read_message
from gateway.core.model import Location, Stamp, Verdict
from gateway.core.recipients import parse_recipient
from gateway.core.stamps import read_stamps
from gateway.policyfiles.load import load_policy
from gateway.store.store import Store, new_held
from tests.support.gateway import EXAMPLE_POLICIES, message

FULL = Decision(
    stamp=Stamp.NEEDS_ADJUSTMENT, found_in=(Location.BODY, Location.SUBJECT),
    recipients=(
        RecipientDecision("Press+Desk@Example.org", "press@example.org", "organisation",
                          ("communications",), Verdict.HOLD, "needs_adjustment.communications",
                          "needs_adjustment.communications: hold for a reviewer"),
        RecipientDecision("bob@example.org", "bob@example.org", "organisation", ("staff",),
                          Verdict.ALLOW, "needs_adjustment.organisation", "allowed"),
    ),
    rules=("needs_adjustment.communications", "downgrade"), reasons=("a downgrade",),
    policy_version="v7", adjustments=("blur face", "change name"), stated_count=2,
    unreadable=("a part could not be decoded",), downgrade="downgrade from Internal",
    thread_id="<t@example.org>", newcomers=("carol@example.org",), sender="alice@example.org",
    embedded=(("internal", "quoted", 1),),
)


def test_from_dict_reads_back_what_to_dict_wrote() -> None:
    assert Decision.from_dict(json.loads(json.dumps(FULL.to_dict()))) == FULL


def test_a_real_decision_round_trips() -> None:
    policy = load_policy(EXAMPLE_POLICIES)
    data = message("Confidential\n\nA client's story.\n", to="carol@example.org")
    thread = ThreadContext("<t@example.org>", Stamp.CONFIDENTIAL, frozenset({"alice@example.org"}))
    decision = decide(policy, read_stamps(read_message(data), policy.vocabulary),
                      "alice@example.org", [parse_recipient("carol@example.org")], thread)
    assert Decision.from_dict(decision.to_dict()) == decision


async def test_the_store_hands_back_the_decision_it_was_given(tmp_path: Path) -> None:
    store = await Store.open(tmp_path)
    try:
        record = new_held(queue_id="Q1", sender="alice@example.org",
                          recipients=["Press+Desk@Example.org", "bob@example.org"],
                          held=["Press+Desk@Example.org"], decision=FULL, size=4,
                          message_id="<m@example.org>")
        await store.hold(record, b"body")
        stored = await store.get_held(record.id)
    finally:
        await store.close()
    assert stored is not None and stored.decision == FULL
    assert stored.adjustments == ("blur face", "change name")
    assert stored.summary()["newcomers"] == ["carol@example.org"]
