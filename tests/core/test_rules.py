"""The rule table, row by row: each case names the rule that decides it, and fails without it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gateway.core.decision import Decision, ThreadContext, decide
from gateway.core.message import read_message
from gateway.core.model import Stamp, Verdict
from gateway.core.photos import MetadataKind, PhotoFinding
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.core.rules import RULES
from gateway.core.stamps import read_stamps
from gateway.core.tally import Rule
from tests.core.mail import plain, raw
from tests.core.register_clients import findings_in
from tests.support import documents

ALLOW, HOLD, BOUNCE = Verdict.ALLOW, Verdict.HOLD, Verdict.BOUNCE
STAFF_SENDER = "bob@example.org"
MANAGER = "director@example.org"
COLLEAGUE = "alice@example.org"
NEWCOMER = "carol@example.org"
COMMS = "press@example.org"
OUTSIDE = "partner@outside.test"
AUDIENCE = "STAMP.AUDIENCE"
UNREADABLE = "unreadable.AUDIENCE"

LINES = {
    Stamp.CLEARED: "Cleared for publication",
    Stamp.NEEDS_ADJUSTMENT: "Needs adjustment in 2 ways: blur face, change name",
    Stamp.INTERNAL: "Internal",
    Stamp.CONFIDENTIAL: "Confidential",
}
PGP = ('Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="B"',
       "--B\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--B\n"
       "Content-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\nhQ\n"
       "-----END PGP MESSAGE-----\n--B--\n")
CHAIN = frozenset({STAFF_SENDER, COLLEAGUE})
GPS = frozenset({MetadataKind.LOCATION})


@dataclass(frozen=True)
class Case:
    """One message to one recipient; ``rule`` is the table rule the case depends on."""

    body: bytes
    recipient: str
    verdict: Verdict
    decided_by: str  # the recipient's deciding rule name, as replies and logs show it
    rule: str
    sender: str = STAFF_SENDER
    thread: ThreadContext | None = None
    fired: tuple[str, ...] = field(default=())  # further names that must be recorded
    register: bool = False  # the message is scanned against the protected-client register
    verified: bool = True  # the edge vouches for the sender (logged in, verified upstream)
    photos: tuple[PhotoFinding, ...] = ()  # what the image scan found in the message


def stamped(stamp: Stamp | None, rest: str = "The client story.") -> bytes:
    return plain(f"{LINES[stamp]}\n\n{rest}\n" if stamp else f"{rest}\n")


LOCKED_PDF = documents.mail("Cleared for publication\n\nThe report.",
                            [("report.pdf", documents.pdf([["Cleared for publication"]],
                                                          password="secret"))])


def encrypted(subject: str) -> bytes:
    headers, body = PGP
    return raw(f"Subject: {subject}\n{headers}", body)


def thread(stamp: Stamp | None, participants: frozenset[str] | None = None) -> ThreadContext:
    return ThreadContext("<t1@example.org>", stamp, participants)


def audience_rows() -> dict[str, Case]:
    """Every stamp (and none) for every audience: the stamp table of the product."""
    expected = {
        Stamp.CLEARED: {MANAGER: ("organisation", ALLOW), COMMS: ("organisation", ALLOW),
                        OUTSIDE: ("external", ALLOW)},
        Stamp.NEEDS_ADJUSTMENT: {MANAGER: ("organisation", ALLOW),
                                 COMMS: ("groups.communications", HOLD),
                                 OUTSIDE: ("external", HOLD)},
        Stamp.INTERNAL: {MANAGER: ("organisation", ALLOW),
                         COMMS: ("groups.communications", BOUNCE),
                         OUTSIDE: ("external", BOUNCE)},
        Stamp.CONFIDENTIAL: {MANAGER: ("thread", ALLOW),
                             COMMS: ("groups.communications", BOUNCE),
                             OUTSIDE: ("external", BOUNCE)},
        None: {MANAGER: ("organisation", ALLOW), COMMS: ("groups.communications", BOUNCE),
               OUTSIDE: ("external", ALLOW)},
    }
    rows: dict[str, Case] = {}
    for stamp, audiences in expected.items():
        name = stamp.value if stamp else "unstamped"
        for recipient, (audience, verdict) in audiences.items():
            rows[f"{name} to {audience}"] = Case(stamped(stamp), recipient, verdict,
                                                 f"{name}.{audience}", AUDIENCE)
    return rows


ROWS: dict[str, Case] = {
    **audience_rows(),
    # Threads: an unstamped reply takes the thread's stamp.
    "unstamped reply in an internal thread, to communications": Case(
        stamped(None, "Thanks!"), COMMS, BOUNCE, "internal.groups.communications",
        "thread-inherit", thread=thread(Stamp.INTERNAL)),
    "unstamped reply in a confidential chain, to outside": Case(
        stamped(None, "Thanks!"), OUTSIDE, BOUNCE, "confidential.external",
        "thread-inherit", thread=thread(Stamp.CONFIDENTIAL, CHAIN)),
    "unstamped reply in a needs-adjustment thread, to outside": Case(
        stamped(None, "Thanks!"), OUTSIDE, HOLD, "needs_adjustment.external",
        "thread-inherit", thread=thread(Stamp.NEEDS_ADJUSTMENT)),
    # Partners' label headers from the client: a stricter one decides, a looser one is not used.
    "unstamped with a PROTECTED marking header, to outside": Case(
        raw("Subject: x\nX-Protective-Marking: VER=2018.4, NS=gov.au, SEC=PROTECTED",
            "The figures.\n"), OUTSIDE, BOUNCE, "confidential.external", "label-header"),
    "internal with a TLP:RED header, to outside": Case(
        raw("Subject: Internal\nX-TLP: TLP:RED", "The figures.\n"), OUTSIDE, BOUNCE,
        "confidential.external", "label-header"),
    "unstamped with a TLP:CLEAR header, to communications": Case(
        raw("Subject: x\nX-TLP: CLEAR", "The figures.\n"), COMMS, BOUNCE,
        "unstamped.groups.communications", "label-header"),
    # A stamp and a partner's label that disagree: said, the stricter decides.
    "cleared with a TLP:RED subject, to outside": Case(
        plain("Cleared for publication\n\nThe figures.\n", subject="[TLP:RED] figures"),
        OUTSIDE, BOUNCE, "confidential.external", "label-conflict"),
    # Confidential chains: a participant is allowed, an organisation newcomer is named.
    "confidential chain, a participant": Case(
        stamped(Stamp.CONFIDENTIAL), COLLEAGUE, ALLOW, "confidential.thread", AUDIENCE,
        thread=thread(Stamp.CONFIDENTIAL, CHAIN)),
    "confidential chain, an organisation newcomer": Case(
        stamped(Stamp.CONFIDENTIAL), NEWCOMER, HOLD, "confidential.organisation",
        "thread-newcomer", thread=thread(Stamp.CONFIDENTIAL, CHAIN)),
    # Downgrades: stricter quoted, forwarded or thread content under a lower stamp.
    "cleared over quoted confidential, to communications": Case(
        stamped(Stamp.CLEARED, "> Confidential\n> the story"), COMMS, HOLD, "downgrade",
        "downgrade"),
    "cleared over quoted internal, to outside": Case(
        stamped(Stamp.CLEARED, "> Internal\n> x"), OUTSIDE, HOLD, "downgrade", "downgrade"),
    "cleared reply in an internal thread, to communications": Case(
        stamped(Stamp.CLEARED, "Thanks!"), COMMS, HOLD, "downgrade", "downgrade",
        thread=thread(Stamp.INTERNAL)),
    "cleared over forwarded needs-adjustment, to outside": Case(
        stamped(Stamp.CLEARED, "---------- Forwarded message ---------\nFrom: Carol\n"
                               "Subject: [Needs adjustment] x\n\nstory"),
        OUTSIDE, HOLD, "downgrade", "downgrade"),
    "management clears quoted needs-adjustment material": Case(
        stamped(Stamp.CLEARED, "> Needs adjustment: blur face\n> story"), COMMS, ALLOW,
        "cleared.organisation", "downgrade-permitted", sender=MANAGER),
    "a claimed, unverified management sender clears quoted material": Case(
        stamped(Stamp.CLEARED, "> Needs adjustment: blur face\n> story"), COMMS, HOLD,
        "downgrade", "downgrade", sender=MANAGER, verified=False),
    # Unreadable content fails closed for communications and outside.
    "unreadable, unstamped, to outside": Case(
        encrypted("Case update"), OUTSIDE, HOLD, "unreadable.external", UNREADABLE),
    "unreadable, needs adjustment in the Subject, to outside": Case(
        encrypted("[Needs adjustment] Case"), OUTSIDE, HOLD, "needs_adjustment.external",
        AUDIENCE, fired=("unreadable.external",)),
    "unreadable, cleared thread, to communications": Case(
        encrypted("Case update"), COMMS, HOLD, "unreadable.groups.communications",
        UNREADABLE, thread=thread(Stamp.CLEARED)),
    "unreadable, cleared thread, to outside": Case(
        encrypted("Case update"), OUTSIDE, HOLD, "unreadable.external", UNREADABLE,
        thread=thread(Stamp.CLEARED)),
    # The protected-client register, whatever the stamp, for communications and outside.
    "a client's real name under Cleared, to communications": Case(
        stamped(Stamp.CLEARED, "Amina Haddad told us her story."), COMMS, HOLD, "register",
        "register", register=True, fired=("cleared.organisation",)),
    "a client's real name, unstamped, to outside": Case(
        stamped(None, "Our client Amina Haddad."), OUTSIDE, HOLD, "register", "register",
        register=True),
    "a client's real name inside the organisation": Case(
        stamped(Stamp.CLEARED, "Amina Haddad told us her story."), MANAGER, ALLOW,
        "cleared.organisation", AUDIENCE, register=True),
    "a hometown next to the pseudonym, to communications": Case(
        stamped(Stamp.CLEARED, "Sara grew up in Bakhmut."), COMMS, HOLD, "register",
        "register", register=True),
    "the pseudonym of a client not yet resettled, to outside": Case(
        stamped(Stamp.CLEARED, "John's story, told with his consent."), OUTSIDE, HOLD,
        "register", "register", register=True),
    "the pseudonym of a client not yet resettled, to communications": Case(
        stamped(Stamp.CLEARED, "John's story, told with his consent."), COMMS, ALLOW,
        "cleared.organisation", AUDIENCE, register=True),
    "a real name under Internal, to communications: the bounce stays": Case(
        stamped(Stamp.INTERNAL, "Amina Haddad"), COMMS, BOUNCE,
        "internal.groups.communications", AUDIENCE, register=True),
    # Photos, whatever the stamp, for communications and outside (policies/photos.toml).
    "a photo's location, stripped, to outside": Case(
        stamped(Stamp.CLEARED), OUTSIDE, ALLOW, "cleared.external", "photo-metadata",
        photos=(PhotoFinding("a.jpg", "JPEG", GPS, stripped=True),)),
    "a photo's location in a signed message, to communications": Case(
        stamped(Stamp.CLEARED), COMMS, HOLD, "photo-metadata", "photo-metadata",
        photos=(PhotoFinding("a.jpg", "JPEG", GPS, problem="in a signed message"),)),
    "a photo's location, not stripped, to outside": Case(
        stamped(None), OUTSIDE, HOLD, "photo-metadata", "photo-metadata",
        photos=(PhotoFinding("a.jpg", "JPEG", GPS),)),
    "a photo's location inside the organisation": Case(
        stamped(Stamp.CLEARED), MANAGER, ALLOW, "cleared.organisation", AUDIENCE,
        photos=(PhotoFinding("a.jpg", "JPEG", GPS),)),
    "a sharp face under 'blur face', to communications": Case(
        stamped(Stamp.NEEDS_ADJUSTMENT), COMMS, HOLD, "photo-faces", "photo-faces",
        photos=(PhotoFinding("a.jpg", "JPEG", faces=1, sharp_faces=1),),
        fired=("needs_adjustment.groups.communications",)),
    "a blurred face under 'blur face', to outside": Case(
        stamped(Stamp.NEEDS_ADJUSTMENT), OUTSIDE, HOLD, "needs_adjustment.external", AUDIENCE,
        photos=(PhotoFinding("a.jpg", "JPEG", faces=1, sharp_faces=0),)),
    "a sharp face under Cleared, to outside (the example policy reviews faces)": Case(
        stamped(Stamp.CLEARED), OUTSIDE, HOLD, "photo-faces", "photo-faces",
        photos=(PhotoFinding("a.jpg", "JPEG", faces=2, sharp_faces=1),)),
    "a sharp face under Cleared, to communications (the example policy allows)": Case(
        stamped(Stamp.CLEARED), COMMS, ALLOW, "cleared.organisation", AUDIENCE,
        photos=(PhotoFinding("a.jpg", "JPEG", faces=1, sharp_faces=1),)),
    "a sharp face under 'blur face', inside the organisation": Case(
        stamped(Stamp.NEEDS_ADJUSTMENT), MANAGER, ALLOW, "needs_adjustment.organisation",
        AUDIENCE, photos=(PhotoFinding("a.jpg", "JPEG", faces=1, sharp_faces=1),)),
    "an unreadable photo, to outside": Case(
        stamped(Stamp.CLEARED), OUTSIDE, HOLD, "photo-metadata", "photo-metadata",
        photos=(PhotoFinding("a.jpg", "JPEG", problem="cannot be read"),)),
    # Wording only: the stated count of adjustments disagrees with the list.
    "needs adjustment in 3 ways, listing 2": Case(
        plain("Needs adjustment in 3 ways: blur face, change name\nx\n"), MANAGER, ALLOW,
        "needs_adjustment.organisation", "adjustment-count"),
    # Attached files that cannot be read, whatever the stamp: held for communications and
    # outside, relayed inside the organisation.
    "an encrypted PDF under Cleared, to outside": Case(
        LOCKED_PDF, OUTSIDE, HOLD, "attachment-unreadable", "attachment-unreadable"),
    "an encrypted PDF under Cleared, to communications": Case(
        LOCKED_PDF, COMMS, HOLD, "attachment-unreadable", "attachment-unreadable"),
    "an encrypted PDF under Cleared, inside the organisation": Case(
        LOCKED_PDF, MANAGER, ALLOW, "cleared.organisation", AUDIENCE),
}


def decide_case(policy: Policy, case: Case, table: tuple[Rule, ...] = RULES) -> Decision:
    facts = read_message(case.body)
    reading = read_stamps(facts, policy.vocabulary)
    separator = policy.organisation.plus_separator
    recipients = [parse_recipient(case.recipient, separator)]
    register = findings_in(facts) if case.register else ()
    return decide(policy, reading, case.sender, recipients, case.thread, table, register,
                  sender_verified=case.verified, photos=case.photos)


def observed(decision: Decision) -> tuple[object, ...]:
    """All a sender, a reviewer or a log reader would see of one recipient's decision."""
    (only,) = decision.recipients
    return (decision.stamp, only.verdict, only.rule, only.reason, decision.reasons,
            decision.downgrade, decision.newcomers)


def rule_names(table: tuple[Rule, ...]) -> list[str]:
    return [rule.name for rule in table]


@pytest.mark.parametrize("name", list(ROWS))
def test_row(name: str, policy: Policy) -> None:
    case = ROWS[name]
    decision = decide_case(policy, case)
    (only,) = decision.recipients
    assert (only.verdict, only.rule) == (case.verdict, case.decided_by)
    assert case.decided_by in decision.rules
    for fired in case.fired:
        assert fired in decision.rules


@pytest.mark.parametrize("name", list(ROWS))
def test_row_depends_on_the_rule_it_names(name: str, policy: Policy) -> None:
    """Without the rule the row names, the row's outcome changes (or the table is refused)."""
    case = ROWS[name]
    assert case.rule in rule_names(RULES)
    table = tuple(rule for rule in RULES if rule.name != case.rule)
    with_rule = observed(decide_case(policy, case))
    if case.rule == AUDIENCE:
        with pytest.raises(AssertionError, match="audience rule"):
            decide_case(policy, case, table)
        return
    assert observed(decide_case(policy, case, table)) != with_rule


def test_every_rule_of_the_table_decides_some_row() -> None:
    named = {case.rule for case in ROWS.values()}
    assert named == set(rule_names(RULES))


def test_without_unreadable_the_gateway_would_leak(policy: Policy) -> None:
    """The table is data: dropping the unreadable rule lets encrypted mail go outside."""
    case = ROWS["unreadable, unstamped, to outside"]
    table = tuple(rule for rule in RULES if rule.name != UNREADABLE)
    (only,) = decide_case(policy, case, table).recipients
    assert (only.verdict, only.rule) == (ALLOW, "unstamped.external")


def test_order_is_part_of_the_table(policy: Policy) -> None:
    """Inheritance after the audience rule would judge the reply as unstamped."""
    case = ROWS["unstamped reply in an internal thread, to communications"]
    inherit, rest = RULES[0], RULES[1:]
    assert inherit.name == "thread-inherit"
    (only,) = decide_case(policy, case, (*rest, inherit)).recipients
    assert (only.verdict, only.rule) == (BOUNCE, "unstamped.groups.communications")
    assert decide_case(policy, case, (*rest, inherit)).stamp is Stamp.INTERNAL


def test_a_refining_rule_before_the_audience_rule_is_refused(policy: Policy) -> None:
    downgrade = next(rule for rule in RULES if rule.name == "downgrade")
    case = ROWS["cleared over quoted confidential, to communications"]
    with pytest.raises(AssertionError, match="downgrade runs before any audience rule"):
        decide_case(policy, case, (downgrade, *RULES))


def test_rules_have_unique_names_and_one_line_descriptions() -> None:
    names = rule_names(RULES)
    assert len(names) == len(set(names))
    for rule in RULES:
        assert rule.description.strip() and "\n" not in rule.description


def test_every_hit_is_recorded_even_when_a_stricter_rule_decides(policy: Policy) -> None:
    decision = decide_case(policy, ROWS["cleared over quoted confidential, to communications"])
    assert decision.rules == ("cleared.organisation", "downgrade")
    newcomer = decide_case(policy, ROWS["confidential chain, an organisation newcomer"])
    assert newcomer.rules == ("confidential.organisation", "thread-newcomer")
    assert newcomer.newcomers == (NEWCOMER,)
    assert "new to the confidential thread" in newcomer.recipients[0].reason
