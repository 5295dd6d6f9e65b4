"""Our stamp written for partners: the exact header fields per stamp and writer, the DER of
the SIO-Label read back by OpenSSL, the subject tag, and who gets which copy."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import pytest

from gateway.core import protective_marking, sio_label, tlp
from gateway.core.decision import Decision
from gateway.core.label_policy import LabelMap
from gateway.core.label_reading import subject_labels
from gateway.core.label_writers import (
    WRITTEN_HEADERS,
    Copy,
    LabelCopy,
    copies,
    ess_security_label,
    has_tag,
    label_copy,
    label_stamp,
)
from gateway.core.model import Stamp
from gateway.core.owned import owned
from gateway.core.partners import STAMPGATE_POLICY_ID, Partner, PartnerPolicy, partner_for
from gateway.core.recipients import parse_recipient
from gateway.core.text import normalise_text
from gateway.policyfiles.load import load_policy
from tests.support.gateway import EXAMPLE_POLICIES

ALL = Partner(write=("tlp", "protective-marking", "sio-label"), subject_tag=True)
OID_DER = "0614698285b7bc90bae882a8b98dab8f9ee4b1b48750"  # 2.25.<UUID 82b77841-...>


@pytest.mark.parametrize(("stamp", "tlp", "marking", "sio"), [
    (Stamp.CLEARED, "TLP:CLEAR", "VER=2018.4, NS=gov.au, SEC=OFFICIAL",
     'marking="CLEARED FOR PUBLICATION"; type=":ess";\r\n label="MTICAQEGFGmChbe8kLrogqi5jauPnu'
     'SxtIdQExdDTEVBUkVEIEZPUiBQVUJMSUNBVElPTg=="'),
    (Stamp.NEEDS_ADJUSTMENT, "TLP:AMBER+STRICT", "VER=2018.4, NS=gov.au, SEC=OFFICIAL:Sensitive",
     'marking="NEEDS ADJUSTMENT"; type=":ess";\r\n label="MSsCAQIGFGmChbe8kLrogqi5jauPnuSxtIdQ'
     'ExBORUVEUyBBREpVU1RNRU5U"'),
    (Stamp.INTERNAL, "TLP:AMBER+STRICT", "VER=2018.4, NS=gov.au, SEC=OFFICIAL",
     'marking="INTERNAL"; type=":ess";\r\n label="MSMCAQMGFGmChbe8kLrogqi5jauPnuSxtIdQEwhJTlRFUk5B'
     'TA=="'),
    (Stamp.CONFIDENTIAL, "TLP:RED",
     "VER=2018.4, NS=gov.au, SEC=OFFICIAL:Sensitive, ACCESS=Personal-Privacy",
     'marking="CONFIDENTIAL"; type=":ess";\r\n label="MScCAQQGFGmChbe8kLrogqi5jauPnuSxtIdQEwxDT05G'
     'SURFTlRJQUw="'),
])
def test_each_stamp_is_written_in_every_scheme(stamp: Stamp, tlp: str, marking: str,
                                              sio: str) -> None:
    written = label_copy(stamp, ALL, PartnerPolicy())
    assert written == LabelCopy((("X-TLP", tlp), ("X-Protective-Marking", marking),
                                 ("SIO-Label", sio)), f"[{tlp}]")


def test_only_the_configured_writers_are_written() -> None:
    partner = Partner(write=("sio-label",))
    written = label_copy(Stamp.INTERNAL, partner, PartnerPolicy())
    assert written is not None
    assert [name for name, _ in written.fields] == ["SIO-Label"]
    assert written.subject_tag is None


def test_every_field_we_write_is_one_a_clients_copy_of_is_stripped() -> None:
    # So a partner's copy never carries a client's label beside ours (adapters/rewrite.py).
    assert all(owned(name) for name in WRITTEN_HEADERS)


def test_without_a_stamp_nothing_is_claimed() -> None:
    assert label_copy(None, ALL, PartnerPolicy()) is None


def test_the_mappings_follow_the_policy() -> None:
    policy = PartnerPolicy.model_validate({
        "tlp": {"internal": "AMBER"},
        "protective_marking": {"sec": {"confidential": "PROTECTED"}, "access": {}},
        "sio_label": {"policy_id": "1.3.6.1.4.1.99999.1"},
    })
    written = label_copy(Stamp.INTERNAL, ALL, policy)
    assert written is not None and dict(written.fields)["X-TLP"] == "TLP:AMBER"
    assert written.subject_tag == "[TLP:AMBER]"
    confidential = label_copy(Stamp.CONFIDENTIAL, ALL, policy)
    assert confidential is not None
    # An empty access table writes no ACCESS (without the table: Personal-Privacy).
    assert dict(confidential.fields)["X-Protective-Marking"] == (
        "VER=2018.4, NS=gov.au, SEC=PROTECTED")
    der = ess_security_label(Stamp.INTERNAL, "1.3.6.1.4.1.99999.1")
    assert der.hex() == "3118020103" + "06092b06010401868d1f01" + "1308" + b"INTERNAL".hex()


def asn1parse(der: bytes) -> str:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to read the label back (apt-get install openssl)"
    return subprocess.run([openssl, "asn1parse", "-inform", "DER", "-i"], input=der,
                          capture_output=True, check=True).stdout.decode()


@pytest.mark.parametrize("stamp", list(Stamp))
def test_the_sio_label_is_an_ess_security_label_openssl_reads(stamp: Stamp) -> None:
    written = label_copy(stamp, ALL, PartnerPolicy())
    assert written is not None
    value = dict(written.fields)["SIO-Label"]
    params = dict(re.findall(r'(\w+)="([^"]*)"', value))
    assert params["type"] == ":ess"
    der = base64.b64decode(params["label"], validate=True)
    assert OID_DER in der.hex()
    rows = [" ".join(re.split(r"(?:prim|cons):", line, maxsplit=1)[1].split())
            for line in asn1parse(der).splitlines()]
    assert rows == ["SET", f"INTEGER :{stamp.rank:02X}", f"OBJECT :{STAMPGATE_POLICY_ID}",
                    f"PRINTABLESTRING :{params['marking']}"]


@pytest.mark.parametrize(("subject", "tag", "present"), [
    ("budget", "[TLP:RED]", False),
    ("[TLP:RED] budget", "[TLP:RED]", True),
    ("Re: [tlp:red] budget", "[TLP:RED]", True),
    ("Re: TLP : RED budget", "[TLP:RED]", True),
    ("[TLP:AMBER+STRICT] budget", "[TLP:AMBER]", False),
    ("[TLP:AMBER] budget", "[TLP:AMBER+STRICT]", False),
    ("Re: [TLP:AMBER + STRICT] budget", "[TLP:AMBER+STRICT]", True),
    ("[TLP:CLEARED] budget", "[TLP:CLEAR]", False),
    ("[TLP:GREEN] budget", "[TLP:RED]", False),
])
def test_a_subject_with_the_tag_is_not_tagged_again(subject: str, tag: str,
                                                   present: bool) -> None:
    assert has_tag(subject, tag) is present


POLICY_DIR_PARTNERS = """
[partners."unhcr.test"]
write = ["tlp"]
include_subdomains = true

[partners."gov.test"]
write = ["protective-marking"]
"""


def test_recipients_are_grouped_by_the_labels_they_get() -> None:
    policy = load_policy(EXAMPLE_POLICIES, {"partners.toml": POLICY_DIR_PARTNERS})
    recipients = [parse_recipient(a, "+") for a in (
        "bob@example.org", "ana@unhcr.test", "field@geneva.unhcr.test", "x@news.test",
        "officer@gov.test", "y@sub.gov.test")]
    made = copies(policy, Stamp.CLEARED, recipients)
    tlp = LabelCopy((("X-TLP", "TLP:CLEAR"),))
    marking = LabelCopy((("X-Protective-Marking", "VER=2018.4, NS=gov.au, SEC=OFFICIAL"),))
    assert made == (
        Copy(("bob@example.org", "x@news.test", "y@sub.gov.test"), None),
        Copy(("ana@unhcr.test", "field@geneva.unhcr.test"), tlp),
        Copy(("officer@gov.test",), marking),
    )
    # One copy for all (a milter's MTA): labels only when every recipient gets the same.
    assert copies(policy, Stamp.CLEARED, recipients, single=True) == (
        Copy(tuple(r.address for r in recipients), None),)
    assert copies(policy, Stamp.CLEARED, recipients[1:3], single=True) == (
        Copy(("ana@unhcr.test", "field@geneva.unhcr.test"), tlp),)
    assert copies(policy, None, recipients[1:3]) == (
        Copy(("ana@unhcr.test", "field@geneva.unhcr.test"), None),)


def test_the_nearest_partner_domain_decides() -> None:
    policy = PartnerPolicy.model_validate({"partners": {
        "Unhcr.Test.": {"write": ["tlp"], "include_subdomains": True},
        "geneva.unhcr.test": {"write": ["sio-label"]},
    }})
    found = partner_for(policy, "geneva.unhcr.test")
    assert found is not None and found.domain == "geneva.unhcr.test"
    found = partner_for(policy, "x.geneva.unhcr.test")  # geneva's table has no subdomains
    assert found is not None and found.domain == "unhcr.test"
    assert partner_for(policy, "unhcr.test.evil.test") is None
    assert partner_for(policy, "notunhcr.test") is None


def decision_for(stamp: Stamp | None, rules: tuple[str, ...],
                 embedded: tuple[tuple[str, str, int], ...]) -> Decision:
    return Decision(stamp=stamp, found_in=(), recipients=(), rules=rules, reasons=(),
                    policy_version="test", embedded=embedded)


@pytest.mark.parametrize(("stamp", "rules", "embedded", "thread", "expected"), [
    (Stamp.INTERNAL, ("internal.organisation",), (), None, Stamp.INTERNAL),
    (None, ("unstamped.external",), (), None, None),
    # Stricter quoted content under no stamp, downgrade not permitted: the label says it.
    (None, ("unstamped.external", "downgrade"), (("internal", "quoted", 1),), None,
     Stamp.INTERNAL),
    (Stamp.CLEARED, ("cleared.external", "downgrade"),
     (("needs_adjustment", "quoted", 1), ("confidential", "attached", 2)), None,
     Stamp.CONFIDENTIAL),
    (Stamp.CLEARED, ("cleared.external", "downgrade"), (), Stamp.INTERNAL, Stamp.INTERNAL),
    # Management re-stamped the story: the permitted downgrade is the stamp.
    (Stamp.CLEARED, ("downgrade-permitted", "cleared.external"),
     (("needs_adjustment", "quoted", 1),), Stamp.NEEDS_ADJUSTMENT, Stamp.CLEARED),
])
def test_the_label_never_says_less_than_the_content_carries(
        stamp: Stamp | None, rules: tuple[str, ...], embedded: tuple[tuple[str, str, int], ...],
        thread: Stamp | None, expected: Stamp | None) -> None:
    assert label_stamp(decision_for(stamp, rules, embedded), thread) is expected


OUR_SIO_POLICY = {STAMPGATE_POLICY_ID: {"1": Stamp.CLEARED, "2": Stamp.NEEDS_ADJUSTMENT,
                                        "3": Stamp.INTERNAL, "4": Stamp.CONFIDENTIAL}}
# What the example labels.toml (and our SIO policy, docs/partners.md) reads each back as.
READ_BACK = {
    Stamp.CLEARED: (Stamp.CLEARED, Stamp.INTERNAL, Stamp.CLEARED),
    Stamp.NEEDS_ADJUSTMENT: (Stamp.INTERNAL, Stamp.CONFIDENTIAL, Stamp.NEEDS_ADJUSTMENT),
    Stamp.INTERNAL: (Stamp.INTERNAL, Stamp.INTERNAL, Stamp.INTERNAL),
    Stamp.CONFIDENTIAL: (Stamp.CONFIDENTIAL, Stamp.CONFIDENTIAL, Stamp.CONFIDENTIAL),
}


@pytest.mark.parametrize("stamp", list(Stamp))
def test_what_we_write_reads_back_as_our_stamp_or_stricter(stamp: Stamp) -> None:
    example = load_policy(EXAMPLE_POLICIES).labels
    table = LabelMap.of(example.model_copy(update={"sio": OUR_SIO_POLICY}))
    written = label_copy(stamp, ALL, PartnerPolicy())
    assert written is not None
    fields = dict(written.fields)
    labels = (tlp.header_label(fields["X-TLP"]),
              protective_marking.read_header(fields["X-Protective-Marking"]),
              sio_label.read_header(" ".join(fields["SIO-Label"].split())))
    assert all(label is not None for label in labels)
    read = tuple(table.stamp_for(label) for label in labels if label is not None)
    assert read == READ_BACK[stamp]
    assert all(back is not None and back.rank >= stamp.rank for back in read)
    assert written.subject_tag is not None
    tagged = subject_labels(normalise_text(f"Re: {written.subject_tag} budget"), table)
    assert [found for _, found in tagged] == [read[0]]
