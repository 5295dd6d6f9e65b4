"""The pure decision against the shipped policy: every row of the stamp table, and more."""

from __future__ import annotations

import json

import pytest

from gateway.core.decision import Decision, ThreadContext, decide
from gateway.core.message import read_message
from gateway.core.model import Location, Stamp, Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.core.stamps import read_stamps
from tests.core.mail import plain, raw, with_attached

ALLOW, HOLD, BOUNCE = Verdict.ALLOW, Verdict.HOLD, Verdict.BOUNCE
SENDER = "bob@example.org"

COMMS = "comms@example.org"
PRESS = "press@example.org"
DIRECTOR = "director@example.org"
STAFF = "alice@example.org"
EXTERNAL = "partner@outside.test"

ENCRYPTED = ('Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; '
             'boundary="B"',
             "--B\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--B\n"
             "Content-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\nhQ\n"
             "-----END PGP MESSAGE-----\n--B--\n")


def run(policy: Policy, data: bytes, recipients: list[str], sender: str = SENDER,
        thread: ThreadContext | None = None) -> Decision:
    reading = read_stamps(read_message(data), policy.vocabulary)
    parsed = [parse_recipient(r, policy.organisation.plus_separator) for r in recipients]
    return decide(policy, reading, sender, parsed, thread)


def verdict_for(policy: Policy, data: bytes, recipient: str, sender: str = SENDER,
                thread: ThreadContext | None = None) -> Verdict:
    decision = run(policy, data, [recipient], sender, thread)
    (only,) = decision.recipients
    return only.verdict


def encrypted(subject: str = "Case update", extra: str = "") -> bytes:
    headers, body = ENCRYPTED
    return raw(f"Subject: {subject}\n{headers}" + (f"\n{extra}" if extra else ""), body)


# ---------------------------------------------------------------------------------------
# The stamp table of PRODUCT.md, one recipient at a time.

STAMP_LINES = {
    Stamp.CLEARED: "Cleared for publication",
    Stamp.NEEDS_ADJUSTMENT: "Needs adjustment in 2 ways: blur face, change name",
    Stamp.INTERNAL: "Internal",
    Stamp.CONFIDENTIAL: "Confidential",
    None: "",
}

TABLE: list[tuple[Stamp | None, str, Verdict]] = [
    (Stamp.CLEARED, COMMS, ALLOW),
    (Stamp.CLEARED, PRESS, ALLOW),
    (Stamp.CLEARED, DIRECTOR, ALLOW),
    (Stamp.CLEARED, STAFF, ALLOW),
    (Stamp.CLEARED, EXTERNAL, ALLOW),
    (Stamp.NEEDS_ADJUSTMENT, COMMS, HOLD),
    (Stamp.NEEDS_ADJUSTMENT, PRESS, HOLD),
    (Stamp.NEEDS_ADJUSTMENT, DIRECTOR, ALLOW),
    (Stamp.NEEDS_ADJUSTMENT, STAFF, ALLOW),
    (Stamp.NEEDS_ADJUSTMENT, EXTERNAL, HOLD),
    (Stamp.INTERNAL, COMMS, BOUNCE),
    (Stamp.INTERNAL, PRESS, BOUNCE),
    (Stamp.INTERNAL, DIRECTOR, ALLOW),
    (Stamp.INTERNAL, STAFF, ALLOW),
    (Stamp.INTERNAL, EXTERNAL, BOUNCE),
    # a new confidential chain starts with the organisation recipients on it
    (Stamp.CONFIDENTIAL, COMMS, BOUNCE),
    (Stamp.CONFIDENTIAL, PRESS, BOUNCE),
    (Stamp.CONFIDENTIAL, DIRECTOR, ALLOW),
    (Stamp.CONFIDENTIAL, STAFF, ALLOW),
    (Stamp.CONFIDENTIAL, EXTERNAL, BOUNCE),
    (None, COMMS, BOUNCE),
    (None, PRESS, BOUNCE),
    (None, DIRECTOR, ALLOW),
    (None, STAFF, ALLOW),
    (None, EXTERNAL, ALLOW),
]


@pytest.mark.parametrize(("stamp", "recipient", "expected"), TABLE,
                         ids=[f"{s.value if s else 'unstamped'}-{r}" for s, r, _ in TABLE])
def test_stamp_table(stamp: Stamp | None, recipient: str, expected: Verdict,
                     policy: Policy) -> None:
    body = f"{STAMP_LINES[stamp]}\n\nThe client story.\n"
    decision = run(policy, plain(body), [recipient])
    assert decision.stamp is stamp
    assert decision.recipients[0].verdict is expected
    assert decision.verdict is expected


@pytest.mark.parametrize(("stamp", "where"), [
    (Stamp.INTERNAL, "subject"), (Stamp.CONFIDENTIAL, "header"), (Stamp.CLEARED, "body"),
])
def test_stamp_found_anywhere_decides_alike(stamp: Stamp, where: str, policy: Policy) -> None:
    label = stamp.label
    data = {
        "subject": plain("Hello", subject=f"[{label}] Case"),
        "header": plain("Hello", X_Stamp=stamp.value),
        "body": plain(f"{label}\nHello"),
    }[where]
    decision = run(policy, data, [PRESS, STAFF, EXTERNAL])
    assert decision.stamp is stamp
    assert decision.found_in == (Location(where),)


def test_one_bounce_bounces_the_message(policy: Policy) -> None:
    decision = run(policy, plain("Internal\nHello"), [STAFF, DIRECTOR, PRESS])
    assert decision.verdict is BOUNCE
    assert decision.addresses(BOUNCE) == (PRESS,)
    assert decision.addresses(ALLOW) == (STAFF, DIRECTOR)
    (bounced,) = [r for r in decision.recipients if r.verdict is BOUNCE]
    assert bounced.groups == ("communications",)
    assert bounced.rule == "internal.groups.communications"


def test_holds_without_bounces_hold_part_of_the_message(policy: Policy) -> None:
    decision = run(policy, plain("Needs adjustment: blur face\nHello"), [STAFF, PRESS, EXTERNAL])
    assert decision.verdict is HOLD
    assert decision.addresses(HOLD) == (PRESS, EXTERNAL)
    assert decision.adjustments == ("blur face",)


def test_stated_count_that_disagrees_is_reported(policy: Policy) -> None:
    decision = run(policy, plain("Needs adjustment in 3 ways: blur face, change name\nx"), [STAFF])
    assert decision.stated_count == 3
    assert any("states 3 adjustments but lists 2" in r for r in decision.reasons)


# ---------------------------------------------------------------------------------------
# Recipients: plus-addressing, case, trailing dot, look-alike domains.

RECIPIENT_FORMS = [
    ("press+x@example.org", BOUNCE, "group communications"),
    ("Press@Example.ORG", BOUNCE, "group communications"),
    ("PRESS+campaign@EXAMPLE.ORG.", BOUNCE, "group communications"),
    ("comms@example.org.", BOUNCE, "group communications"),
    ("alice+notes@example.org", ALLOW, "organisation"),
    ("press@ex\u0430mple.org", BOUNCE, "external"),  # Cyrillic a: not the organisation
    ("press@example.org.evil.test", BOUNCE, "external"),
    ("press@xn--exmple-cua.org", BOUNCE, "external"),
    ("press@sub.example.org", BOUNCE, "external"),
]


@pytest.mark.parametrize(("address", "expected", "audience"), RECIPIENT_FORMS,
                         ids=[a for a, _, _ in RECIPIENT_FORMS])
def test_recipient_forms_on_internal_mail(address: str, expected: Verdict, audience: str,
                                          policy: Policy) -> None:
    decision = run(policy, plain("Internal\nHello"), [address])
    (only,) = decision.recipients
    assert (only.verdict, only.audience) == (expected, audience)


@pytest.mark.parametrize("address", [
    "press@ex\u0430mple.org", "press@example.org.evil.test", "press@xn--exmple-cua.org",
])
def test_look_alikes_of_communications_are_not_communications(address: str,
                                                              policy: Policy) -> None:
    decision = run(policy, plain("Needs adjustment: blur face\nx"), [address])
    (only,) = decision.recipients
    assert only.groups == ()
    assert only.audience == "external"
    assert only.verdict is HOLD


# ---------------------------------------------------------------------------------------
# Unreadable content fails closed.

UNREADABLE = [
    # (subject, extra header, recipient, expected)
    ("Case update", "", PRESS, BOUNCE),  # unstamped: communications bounce anyway
    ("Case update", "", EXTERNAL, HOLD),
    ("Case update", "", STAFF, ALLOW),
    ("[Internal] Case", "", EXTERNAL, BOUNCE),
    ("[Internal] Case", "", STAFF, ALLOW),
    ("[Needs adjustment] Case", "", PRESS, HOLD),
    ("[Needs adjustment] Case", "", EXTERNAL, HOLD),
    ("[Confidential] Case", "", PRESS, BOUNCE),
    # a readable Cleared stamp is the one way out
    ("[Cleared for publication] Case", "", PRESS, ALLOW),
    ("[Cleared for publication] Case", "", EXTERNAL, ALLOW),
    ("Case update", "X-Stamp: cleared", EXTERNAL, ALLOW),
    # a Cleared stamp next to a stricter one is not Cleared
    ("[Cleared for publication] Case", "X-Stamp: needs_adjustment", PRESS, HOLD),
]


@pytest.mark.parametrize(("subject", "extra", "recipient", "expected"), UNREADABLE)
def test_encrypted_content_fails_closed(subject: str, extra: str, recipient: str,
                                        expected: Verdict, policy: Policy) -> None:
    decision = run(policy, encrypted(subject, extra), [recipient])
    assert decision.recipients[0].verdict is expected
    if decision.stamp is not Stamp.CLEARED:
        assert decision.unreadable


@pytest.mark.parametrize("data", [
    raw("Subject: x\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
        "Content-Transfer-Encoding: base64", "MIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\n"),
    raw("Subject: x\nContent-Type: text/plain",
        "-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----\n"),
    raw('Subject: x\nContent-Type: multipart/mixed; boundary="XYZ"', "no boundary\nCleared\n"),
    raw("Subject: x\nContent-Type: text/plain\nContent-Transfer-Encoding: base64", "!!!!@@@\n"),
], ids=["smime", "pgp-armour", "broken-boundary", "bad-base64"])
@pytest.mark.parametrize("recipient", [PRESS, COMMS, EXTERNAL, "press+x@example.org"])
def test_unreadable_never_reaches_communications_or_outside(data: bytes, recipient: str,
                                                            policy: Policy) -> None:
    decision = run(policy, data, [recipient])
    assert decision.recipients[0].verdict is not ALLOW


def test_inherited_cleared_stamp_does_not_lift_unreadable(policy: Policy) -> None:
    thread = ThreadContext("<t1@example.org>", Stamp.CLEARED)
    decision = run(policy, encrypted(), [PRESS, EXTERNAL], thread=thread)
    assert decision.stamp is Stamp.CLEARED
    assert decision.found_in == (Location.THREAD,)
    assert all(r.verdict is not ALLOW for r in decision.recipients)


def test_unreadable_attached_message_fails_closed(policy: Policy) -> None:
    inner = encrypted()
    decision = run(policy, with_attached("Hello, see attached", inner), [EXTERNAL])
    assert decision.unreadable
    assert decision.recipients[0].verdict is HOLD


# ---------------------------------------------------------------------------------------
# Embedded content: a stricter stamp inside is a downgrade, held for whom it would not allow.

DOWNGRADES = [
    # (body, recipient, sender, expected)
    ("Cleared\n\n> Confidential\n> secret\n", PRESS, SENDER, HOLD),
    ("Cleared\n\n> Confidential\n> secret\n", EXTERNAL, SENDER, HOLD),
    ("Cleared\n\n> Internal\n> x\n", STAFF, SENDER, ALLOW),
    ("Cleared\n\n> Internal\n> x\n", PRESS, SENDER, HOLD),
    ("Internal\n\n> Confidential\n> x\n", PRESS, SENDER, BOUNCE),  # bounce stays a bounce
    ("Confidential\n\n> Cleared\n> x\n", STAFF, SENDER, ALLOW),  # stricter own: no downgrade
    ("Cleared\n\n---------- Forwarded message ---------\nFrom: Carol\nSubject: [Internal] x\n"
     "\nHello\n", EXTERNAL, SENDER, HOLD),
    ("Hello\n\nOn Mon, Carol wrote:\n> Internal\n", EXTERNAL, SENDER, HOLD),
    # management may downgrade: that is how a story becomes cleared
    ("Cleared\n\n> Needs adjustment: blur face\n> story\n", PRESS, DIRECTOR, ALLOW),
    ("Cleared\n\n> Needs adjustment: blur face\n> story\n", PRESS, SENDER, HOLD),
    ("Cleared\n\n> Confidential\n> story\n", EXTERNAL, DIRECTOR, ALLOW),
]


@pytest.mark.parametrize(("body", "recipient", "sender", "expected"), DOWNGRADES)
def test_downgrades(body: str, recipient: str, sender: str, expected: Verdict,
                    policy: Policy) -> None:
    decision = run(policy, plain(body), [recipient], sender=sender)
    assert decision.recipients[0].verdict is expected
    if expected is HOLD:
        assert decision.downgrade is not None
        assert decision.recipients[0].rule == "downgrade"


def test_downgrade_is_recorded(policy: Policy) -> None:
    decision = run(policy, plain("Cleared\n\n> Confidential\n> secret\n"), [PRESS])
    assert decision.downgrade == "downgrade from Confidential to Cleared for publication"
    assert "downgrade" in decision.rules
    assert decision.embedded == (("confidential", "quoted", 1),)


def test_attached_stricter_message_is_a_downgrade(policy: Policy) -> None:
    inner = plain("Confidential\nsecret")
    decision = run(policy, with_attached("Cleared for publication\nsee attached", inner), [PRESS])
    assert decision.recipients[0].verdict is HOLD
    assert ("confidential", "attached", 1) in decision.embedded


# ---------------------------------------------------------------------------------------
# Threads.

def test_unstamped_reply_inherits_the_thread_stamp(policy: Policy) -> None:
    thread = ThreadContext("<t1@example.org>", Stamp.INTERNAL)
    decision = run(policy, plain("Thanks!"), [STAFF, PRESS], thread=thread)
    assert decision.stamp is Stamp.INTERNAL
    assert decision.found_in == (Location.THREAD,)
    assert "thread-inherit" in decision.rules
    assert decision.verdict is BOUNCE


def test_lower_stamp_in_a_thread_is_a_downgrade(policy: Policy) -> None:
    thread = ThreadContext("<t1@example.org>", Stamp.INTERNAL)
    decision = run(policy, plain("Cleared\nThanks!"), [STAFF, PRESS], thread=thread)
    assert decision.downgrade is not None
    assert [r.verdict for r in decision.recipients] == [ALLOW, HOLD]


def test_confidential_thread_newcomers_are_held(policy: Policy) -> None:
    thread = ThreadContext("<t1@example.org>", Stamp.CONFIDENTIAL,
                           frozenset({SENDER, STAFF}))
    decision = run(policy, plain("Confidential\nupdate"), [STAFF, DIRECTOR, PRESS, EXTERNAL],
                   thread=thread)
    assert [r.verdict for r in decision.recipients] == [ALLOW, HOLD, BOUNCE, BOUNCE]
    assert decision.newcomers == (DIRECTOR,)


def test_participants_compare_by_folded_address(policy: Policy) -> None:
    thread = ThreadContext("<t1@example.org>", Stamp.CONFIDENTIAL, frozenset({STAFF}))
    decision = run(policy, plain("Confidential\nupdate"), ["Alice+case@Example.org."],
                   thread=thread)
    assert decision.recipients[0].verdict is ALLOW


# ---------------------------------------------------------------------------------------
# The decision value itself.

def test_decide_is_pure(policy: Policy) -> None:
    data = plain("Needs adjustment in 2 ways: blur face, change name\n\n> Internal\n")
    assert run(policy, data, [STAFF, PRESS]) == run(policy, data, [STAFF, PRESS])


def test_to_dict_is_json_and_carries_no_subject_or_body(policy: Policy) -> None:
    data = plain("Internal\nThe client lives at 12 Secret Street.",
                 subject="[Internal] Asylum case of Mr Secretname")
    decision = run(policy, data, [STAFF, PRESS])
    text = json.dumps(decision.to_dict())
    assert "Secret" not in text
    assert json.loads(text)["verdict"] == "bounce"
    assert json.loads(text)["recipients"][1]["rule"] == "internal.groups.communications"


def test_reasons_name_the_recipient_and_the_group(policy: Policy) -> None:
    decision = run(policy, plain("Internal\nx"), [PRESS])
    reason = decision.recipients[0].reason
    assert reason.startswith(f"{PRESS}: ")
    assert "communications" in reason
