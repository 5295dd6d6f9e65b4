"""Partners' labels through a real Postfix that asks ``stampgate milter``. The MTA delivers one
message to every recipient, so the labels are written only when all the recipients of the
delivered copy are the partner's (or partners' with the same labels); mixed with anyone
else, nobody gets labels (docs/partners.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.milter.conftest import MilterPostfix
from tests.support.gateway import message
from tests.support.partners import INTERNAL_LABELS, labels, partner_policies, subject

ALICE = "alice@example.org"
BOB = "bob@example.org"
PARTNER = "ana@unhcr.test"
PARTNER_TWO = "omar@unhcr.test"
OUTSIDE = "journalist@news.test"


@pytest.fixture(scope="module")
def mta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilterPostfix]:
    workdir = tmp_path_factory.mktemp("milter-partners")
    partner_policies(workdir / "policies")
    running = MilterPostfix(workdir)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def postfix(mta: MilterPostfix) -> Iterator[MilterPostfix]:
    mta.downstream.clear()
    yield mta


def test_a_message_for_partners_only_is_labelled_and_a_clients_labels_replaced(
        postfix: MilterPostfix) -> None:
    data = message("Internal\n\nThe audit numbers.", subject="budget", to=PARTNER,
                   headers={"X-TLP": "TLP:CLEAR", "SIO-Label": 'marking="PUBLIC"'})
    code, reply = postfix.send(ALICE, [PARTNER, PARTNER_TWO], data)
    assert code == 250, reply
    [got] = postfix.downstream.wait_for(1)
    assert sorted(got.recipients) == [PARTNER, PARTNER_TWO]
    assert labels(got) == INTERNAL_LABELS
    assert subject(got) == ["[TLP:AMBER+STRICT] budget"]
    assert got.header_text.count("X-Stamp:") == 1


def test_a_tagged_subject_is_left_as_it_is(postfix: MilterPostfix) -> None:
    data = message("Internal\n\nThe audit numbers.", subject="Re: [TLP:AMBER+STRICT] budget",
                   to=PARTNER)
    code, reply = postfix.send(ALICE, [PARTNER], data)
    assert code == 250, reply
    [got] = postfix.downstream.wait_for(1)
    assert labels(got) == INTERNAL_LABELS
    assert subject(got) == ["Re: [TLP:AMBER+STRICT] budget"]


@pytest.mark.parametrize("order", [[PARTNER, OUTSIDE, BOB], [OUTSIDE, BOB, PARTNER]],
                         ids=["partner-first", "partner-last"])
def test_a_partner_among_other_recipients_gets_no_labels(postfix: MilterPostfix,
                                                         order: list[str]) -> None:
    data = message("Cleared for publication\n\nOut today.", subject="press release",
                   to=", ".join(order))
    code, reply = postfix.send(ALICE, order, data)
    assert code == 250, reply
    got = postfix.downstream.wait_for(1)
    assert all(labels(copy) == [] and subject(copy) == ["press release"] for copy in got)
    assert sorted(r for copy in got for r in copy.recipients) == sorted([PARTNER, OUTSIDE, BOB])
