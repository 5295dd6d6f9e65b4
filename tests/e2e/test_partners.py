"""Labels for partners over real SMTP: a partner domain's copy carries our stamp as X-TLP,
X-Protective-Marking and SIO-Label (and a tagged subject), nobody else's does; a client's
copies of those fields are replaced; the stamp signature still verifies; and a partner's
reply quoting a labelled message keeps the stamp when it comes back through the gateway."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default

import pytest

from gateway.adapters import signing
from gateway.adapters.crypto import new_master_key
from tests.support.downstream import Downstream, Mode, Received
from tests.support.gateway import GatewayProcess
from tests.support.partners import (
    INTERNAL_LABELS,
    LABEL_NAMES,
    fields,
    labels,
    partner_policies,
    subject,
)
from tests.support.review_gateway import FAST, HOLD_ID, add_reviewer, cli, wait_for

SENDER = "alice@example.org"
COLLEAGUE = "bob@example.org"
COMMS = "press@example.org"
PARTNER = "ana@unhcr.test"
PARTNER_FIELD = "field@geneva.unhcr.test"
GOVERNMENT = "officer@gov.test"
OUTSIDE = "journalist@news.test"
KEY = "a signing key for the partners test"
REVIEWER = "director@example.org"

@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("partners")
    partner_policies(workdir / "policies")
    config = {**FAST, "notify_mode": "off", "held_encryption_key": new_master_key(),
              "stamp_signing_key": KEY}
    process = GatewayProcess(workdir, downstream.url, config=config)
    add_reviewer(process)
    process.start()
    yield process
    process.stop()


def mail(subject: str, body: str, to: str, extra: str = "", message_id: str = "") -> str:
    mid = f"Message-ID: {message_id}\r\n" if message_id else ""
    return (f"From: Alice <{SENDER}>\r\nTo: {to}\r\nSubject: {subject}\r\n{mid}{extra}"
            f"\r\n{body}\r\n")


def only_copy(downstream: Downstream, address: str) -> Received:
    found = downstream.delivered_to(address)
    assert len(found) == 1, f"{address} got {len(found)} copies"
    return found[0]


def test_only_the_partners_copy_carries_labels(gateway: GatewayProcess,
                                                downstream: Downstream) -> None:
    recipients = [COLLEAGUE, PARTNER, OUTSIDE, PARTNER_FIELD, GOVERNMENT]
    code, reply = gateway.send(SENDER, recipients,
                               mail("press release", "Cleared for publication\r\nOut today.",
                                    ", ".join(recipients)))
    assert code == 250, reply
    got = downstream.wait_for(3)
    assert sorted(sorted(copy.recipients) for copy in got) == [
        [PARTNER, PARTNER_FIELD], [COLLEAGUE, OUTSIDE], [GOVERNMENT]]
    ordinary = only_copy(downstream, COLLEAGUE)
    assert ordinary is only_copy(downstream, OUTSIDE)
    assert labels(ordinary) == [] and subject(ordinary) == ["press release"]
    partner = only_copy(downstream, PARTNER)
    assert labels(partner) == [
        ("X-TLP", "TLP:CLEAR"),
        ("X-Protective-Marking", "VER=2018.4, NS=gov.au, SEC=OFFICIAL"),
        ("SIO-Label", 'marking="CLEARED FOR PUBLICATION"; type=":ess"; label="MTICAQEGFGmChbe8kLr'
                      'ogqi5jauPnuSxtIdQExdDTEVBUkVEIEZPUiBQVUJMSUNBVElPTg=="')]
    assert subject(partner) == ["[TLP:CLEAR] press release"]
    government = only_copy(downstream, GOVERNMENT)
    assert labels(government) == [
        ("X-Protective-Marking", "VER=2018.4, NS=gov.au, SEC=OFFICIAL")]
    assert subject(government) == ["press release"]
    # Apart from the labels and the subject, every copy is the same message.
    for copy in (partner, government):
        rest = [(n, v) for n, v in fields(copy) if n.lower() not in (*LABEL_NAMES, "subject")]
        assert rest == [(n, v) for n, v in fields(ordinary) if n.lower() != "subject"]
        assert copy.data.split(b"\r\n\r\n", 1)[1] == ordinary.data.split(b"\r\n\r\n", 1)[1]


def test_a_clients_own_labels_are_replaced_not_repeated(gateway: GatewayProcess,
                                                        downstream: Downstream) -> None:
    forged = ("X-TLP: TLP:CLEAR\r\nSIO-Label: marking=\"PUBLIC\"\r\n"
              "X-Protective-Marking: VER=2018.4, NS=gov.au, SEC=UNOFFICIAL\r\n")
    code, reply = gateway.send(SENDER, [COLLEAGUE, PARTNER],
                               mail("[TLP:AMBER+STRICT] budget", "Internal\r\nThe audit.",
                                    PARTNER, extra=forged))
    assert code == 250, reply
    downstream.wait_for(2)
    partner = only_copy(downstream, PARTNER)
    assert labels(partner) == INTERNAL_LABELS
    assert subject(partner) == ["[TLP:AMBER+STRICT] budget"]  # already tagged: not twice
    colleague = only_copy(downstream, COLLEAGUE)
    assert subject(colleague) == ["[TLP:AMBER+STRICT] budget"]


def test_the_stamp_signature_verifies_on_the_partners_copy(gateway: GatewayProcess,
                                                            downstream: Downstream) -> None:
    code, reply = gateway.send(SENDER, [PARTNER, COLLEAGUE],
                               mail("budget", "Internal\r\nThe audit.", PARTNER,
                                    message_id="<sig-1@example.org>"))
    assert code == 250, reply
    downstream.wait_for(2)
    key = signing.resolve_key(KEY)
    for address in (PARTNER, COLLEAGUE):
        verified = signing.verify(only_copy(downstream, address).data, key)
        assert verified.stamp == "internal"


def test_a_message_without_a_subject_gets_one_with_the_tag(gateway: GatewayProcess,
                                                           downstream: Downstream) -> None:
    data = f"From: {SENDER}\r\nTo: {PARTNER}\r\n\r\nInternal\r\nCase notes.\r\n"
    code, reply = gateway.send(SENDER, [PARTNER], data)
    assert code == 250, reply
    partner = downstream.wait_for(1)[0]
    assert subject(partner) == ["[TLP:AMBER+STRICT]"]
    assert labels(partner) == INTERNAL_LABELS


def test_unstamped_mail_gets_no_labels(gateway: GatewayProcess, downstream: Downstream) -> None:
    code, reply = gateway.send(SENDER, [PARTNER], mail("lunch", "Shall we meet at one?", PARTNER))
    assert code == 250, reply
    partner = downstream.wait_for(1)[0]
    assert labels(partner) == [] and subject(partner) == ["lunch"]


def alices_answer(labelled: Received, evidence: str) -> str:
    """Alice's answer to the partner's reply to a labelled copy, with no stamp of her own and
    one piece of evidence of what it carries: the partner's ``subject`` tag; the ``thread``'s
    References back to the gateway's message; or only the ``quoted`` original."""
    message = message_from_bytes(labelled.data, policy=default)
    body = message.get_body(("plain",))
    assert body is not None
    subject_line = message["Subject"] if evidence == "subject" else "budget"
    references = (f"In-Reply-To: <reply-1@unhcr.test>\r\n"
                  f"References: {message['Message-ID']} <reply-1@unhcr.test>\r\n"
                  if evidence == "thread" else "")
    quoted = ("> On Monday Alice wrote:\r\n"
              + "".join(f">> {line}\r\n" for line in body.get_content().splitlines())
              if evidence == "quoted" else "")
    return (f"From: Alice <{SENDER}>\r\nTo: {PARTNER}, {OUTSIDE}\r\n"
            f"Subject: Re: Re: {subject_line}\r\n{references}\r\n"
            f"Adding our lawyer.\r\n\r\nOn Tuesday Ana wrote:\r\n> Thanks, noted.\r\n>\r\n"
            f"{quoted}")


@pytest.mark.parametrize("evidence", ["subject", "thread", "quoted"])
def test_a_partners_reply_keeps_the_stamp_on_its_way_back(
        gateway: GatewayProcess, downstream: Downstream, evidence: str) -> None:
    mid = f"<round-trip-{evidence}@example.org>"
    code, reply = gateway.send(SENDER, [PARTNER], mail("budget", "Internal\r\nThe audit numbers.",
                                                        PARTNER, message_id=mid))
    assert code == 250, reply
    labelled = downstream.wait_for(1)[0]
    assert subject(labelled) == ["[TLP:AMBER+STRICT] budget"]
    downstream.clear()
    answer = alices_answer(labelled, evidence)
    code, reply = gateway.send(SENDER, [PARTNER, OUTSIDE], answer)
    if evidence == "quoted":  # stricter quoted content under no stamp: held for outside
        assert code == 250 and "held for review" in reply and "for 1 recipient" in reply, reply
    else:  # the subject's TLP label, or the thread's stamp: Internal, refused outside
        found = {"subject": "subject", "thread": "thread"}[evidence]
        assert code == 550, reply
        assert f"(stamp: Internal; found in: {found}" in reply, reply
        assert f"<{OUTSIDE}> (external): Internal may not go outside the organisation" in reply
        code, reply = gateway.send(SENDER, [PARTNER], answer)
        assert code == 250, reply
    back = downstream.wait_for(1)[0]
    assert back.recipients == [PARTNER]
    assert dict(fields(back))["X-Stamp"] == ("none" if evidence == "quoted" else "internal")
    # Either way the partner's copy says Internal, and its subject is tagged once.
    assert labels(back) == INTERNAL_LABELS
    assert subject(back) == ["Re: Re: [TLP:AMBER+STRICT] budget" if evidence == "subject"
                             else "[TLP:AMBER+STRICT] Re: Re: budget"]


def test_a_released_message_reaches_the_partner_labelled(gateway: GatewayProcess,
                                                         downstream: Downstream) -> None:
    code, reply = gateway.send(SENDER, [COLLEAGUE, PARTNER],
                               mail("Amira's story", "Needs adjustment: change name\r\nAmira "
                                    "crossed the border in March.", PARTNER))
    assert code == 250, reply
    found = HOLD_ID.search(reply)
    assert found is not None, reply
    (colleague,) = wait_for(downstream, COLLEAGUE)
    assert labels(colleague) == [] and subject(colleague) == ["Amira's story"]
    released = cli(gateway, "held", "release", found.group(1), "--by", REVIEWER,
                   "--adjustments-done")
    assert released.returncode == 0, released.stderr
    (partner,) = wait_for(downstream, PARTNER)
    assert partner.recipients == [PARTNER]
    assert labels(partner) == [
        ("X-TLP", "TLP:AMBER+STRICT"),
        ("X-Protective-Marking", "VER=2018.4, NS=gov.au, SEC=OFFICIAL:Sensitive"),
        ("SIO-Label", 'marking="NEEDS ADJUSTMENT"; type=":ess"; label="MSsCAQIGFGmChbe8kLrogqi5'
                      'jauPnuSxtIdQExBORUVEUyBBREpVU1RNRU5U"')]
    assert subject(partner) == ["[TLP:AMBER+STRICT] Amira's story"]
    assert signing.verify(partner.data, signing.resolve_key(KEY)).stamp == "needs_adjustment"


def duplicates_of(gateway: GatewayProcess, message_id: str) -> list[dict[str, object]]:
    return [e for e in gateway.log_events("possible-duplicate-delivery")
            if e.get("message_id") == message_id]


def test_a_copy_that_fails_for_now_after_another_went_is_all_the_retry_sends(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    # The downstream takes the colleague's copy and answers 451 to the partner's.
    downstream.script(Mode.ACCEPT, Mode.TEMPFAIL)
    message_id = "<tempfail-1@example.org>"
    data = mail("budget", "Internal\r\nThe audit.", f"{COLLEAGUE}, {PARTNER}",
                message_id=message_id)
    code, reply = gateway.send(SENDER, [COLLEAGUE, PARTNER], data)
    assert code == 451 and "onward delivery failed (downstream answered 451: message: " \
        "4.3.0 Try again later); try again later" in reply, reply
    assert f"Delivered already to <{COLLEAGUE}>: a retry goes only to the others" in reply
    assert [copy.recipients for copy in downstream.messages] == [[COLLEAGUE]]
    # The client's queue tries again: only the partner's copy goes.
    code, reply = gateway.send(SENDER, [COLLEAGUE, PARTNER], data)
    assert code == 250 and reply.startswith("2.0.0 Ok: queued as"), reply
    assert labels(only_copy(downstream, COLLEAGUE)) == []
    assert labels(only_copy(downstream, PARTNER)) == INTERNAL_LABELS
    assert len(downstream.messages) == 2
    assert duplicates_of(gateway, message_id) == []
    # And once more: the same answer, nothing sent.
    again_code, again = gateway.send(SENDER, [PARTNER, COLLEAGUE], data)
    assert (again_code, again) == (code, reply)
    assert len(downstream.messages) == 2


def test_a_partners_copy_refused_after_another_went_names_who_got_it_and_never_doubles(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    downstream.set(Mode.REFUSE_RCPT, refuse_rcpt=[PARTNER])
    message_id = "<refused-1@example.org>"
    data = mail("budget", "Internal\r\nThe audit.", PARTNER, message_id=message_id)
    code, reply = gateway.send(SENDER, [COLLEAGUE, PARTNER], data)
    assert code == 550, reply
    assert f"Downstream refused the message for <{PARTNER}>: downstream refused <{PARTNER}>: " \
           "550 5.1.1 No such user here" in reply, reply
    assert f"It was delivered to <{COLLEAGUE}>; nobody else got it" in reply
    assert [copy.recipients for copy in downstream.messages] == [[COLLEAGUE]]
    partial = gateway.log_events("partial-delivery")
    assert partial and partial[-1]["copies"] == 2 and partial[-1]["delivered_copies"] == 1
    # The partner's address is put right; the sender sends the message again unchanged:
    # the partner gets its copy, the colleague no second one.
    downstream.set(Mode.ACCEPT)
    code, reply = gateway.send(SENDER, [COLLEAGUE, PARTNER], data)
    assert code == 250, reply
    assert labels(only_copy(downstream, PARTNER)) == INTERNAL_LABELS
    assert len(downstream.delivered_to(COLLEAGUE)) == 1
    assert duplicates_of(gateway, message_id) == []


def test_a_copy_refused_for_good_does_not_stop_the_others(gateway: GatewayProcess,
                                                          downstream: Downstream) -> None:
    # Three copies: the colleague's, the partner's (refused for good), the agency's.
    downstream.script(Mode.ACCEPT, Mode.PERMFAIL, Mode.ACCEPT)
    recipients = [COLLEAGUE, PARTNER, GOVERNMENT]
    data = mail("budget", "Internal\r\nThe audit.", ", ".join(recipients),
                message_id="<refused-2@example.org>")
    code, reply = gateway.send(SENDER, recipients, data)
    assert code == 554, reply
    assert f"Downstream refused the message for <{PARTNER}>: downstream answered 554: " \
           "message: 5.6.0 Message rejected by downstream" in reply, reply
    assert f"It was delivered to <{COLLEAGUE}>, <{GOVERNMENT}>; nobody else got it" in reply
    assert "Sent again unchanged, it goes only to those it did not reach" in reply
    assert sorted(r for copy in downstream.messages for r in copy.recipients) == [
        COLLEAGUE, GOVERNMENT]
    # Sent again and refused again: still nobody gets a second copy.
    downstream.script(Mode.PERMFAIL)
    code, reply = gateway.send(SENDER, recipients, data)
    assert code == 554 and f"It was delivered to <{COLLEAGUE}>, <{GOVERNMENT}>" in reply
    assert len(downstream.messages) == 2
