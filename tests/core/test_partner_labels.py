"""Partners' labels read as stamps: TLP, AU/NZ protective markings, RFC 7444 SIO-Label.

Each family, each place it is read, each way it is written: the example policy's mapping
must come out of real message bytes, and a client's label header may never loosen.
"""

from __future__ import annotations

import base64

import pytest

from gateway.core.decision import Decision, decide
from gateway.core.message import read_message
from gateway.core.model import Location, Stamp, Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.core.sio_label import SioLabelError, ess_label, read_header
from gateway.core.stamps import StampReading, read_stamps
from tests.core.mail import encoded, plain, raw, with_attached
from tests.support import documents

OUTSIDE = "partner@outside.test"
COMMS = "press@example.org"
BOB = "bob@example.org"
C, INT, CL = Stamp.CONFIDENTIAL, Stamp.INTERNAL, Stamp.CLEARED
# ESS label {policy 1.1, classification 3}, as in RFC 7444's example.
ESS = "MQYGASkCAQM="
PARTNER_POLICY = "1.3.6.1.4.1.99999.1"


def reading(policy: Policy, data: bytes) -> StampReading:
    return read_stamps(read_message(data), policy.vocabulary)


def decision(policy: Policy, data: bytes, to: str = OUTSIDE) -> Decision:
    return decide(policy, reading(policy, data), "bob@example.org", [parse_recipient(to, "+")])


@pytest.mark.parametrize(("subject", "expected"), [
    ("[TLP:RED] Incident report", C),
    ("TLP:RED Incident report", C),
    ("tlp:red incident report", C),
    ("[TLP : RED] Incident report", C),
    ("Incident report (TLP:RED)", C),
    ("Re: Fwd: Incident report - TLP: RED", C),
    ("[EXT] TLP: AMBER weekly figures", INT),
    ("[TLP:AMBER+STRICT] figures", INT),
    ("TLP:Amber + Strict - figures", INT),
    ("TLP:GREEN newsletter", INT),
    ("TLP:CLEAR press release", CL),
    ("TLP:WHITE press release", CL),  # TLP 1.0's name for CLEAR
    ("【TLP：RED】 report", C),  # fullwidth brackets and colon
    ("[ТLP:RЕD] report", C),  # Cyrillic Т and Е
    ("[T\u200bLP:RED] report", C),  # a zero-width space inside
    ("=?utf-8?b?W1RMUDpSRURdIHJlcG9ydA==?=", C),  # an encoded word: "[TLP:RED] report"
    ("=?iso-8859-1?q?TLP=3AAMBER_r=E9sum=E9?=", INT),
    ("[SEC=OFFICIAL:Sensitive] Briefing", C),
    ("[SEC=OFFICIAL: Sensitive, CAVEAT=SH:CABINET] Briefing", C),
    ("[SEC=PROTECTED] Briefing", C),
    ("[SEC=OFFICIAL] Briefing", INT),
    ("[SEC=IN-CONFIDENCE] Briefing", INT),  # New Zealand's value
    ("[sec=top secret] Briefing", C),
])
def test_subject_labels(policy: Policy, subject: str, expected: Stamp) -> None:
    found = reading(policy, raw(f"Subject: {subject}", "The story.\n"))
    assert found.stamp is expected, subject
    assert found.where == (Location.SUBJECT,)
    assert all(f.source.startswith("label ") for f in found.own)


@pytest.mark.parametrize("subject", [
    "What does TLP:CLEAR mean?",  # a question, not a marking
    "Notes on the TLP scheme",
    "TLPRED figures",
    "TLP:REDACTED figures",
    "[SEC=UNOFFICIAL] lunch",  # mapped to none: known, no opinion
    "Redistribution: green light",
])
def test_subject_text_that_is_no_label(policy: Policy, subject: str) -> None:
    found = reading(policy, raw(f"Subject: {subject}", "The story.\n"))
    assert found.stamp is None, subject
    assert found.unreadable == ()


@pytest.mark.parametrize(("body", "expected"), [
    ("TLP:RED\n\nThe figures.", C),
    ("\n\n  TLP: amber\nThe figures.", INT),
    ("**TLP:AMBER+STRICT**\nThe figures.", INT),
    ("[TLP:GREEN] Share within your organisation.\nThe figures.", INT),
    ("Label: TLP:CLEAR\nThe figures.", CL),
    ("TLP:CLEAR\nTLP:RED\nThe figures.", C),  # consecutive marker lines: the strictest
    ("Cleared for publication - TLP:RED\nThe figures.", C),  # a stricter trailer wins
])
def test_body_top_lines(policy: Policy, body: str, expected: Stamp) -> None:
    found = reading(policy, plain(body, subject="figures"))
    assert found.stamp is expected, body
    assert found.where == (Location.BODY,)


def test_body_marker_in_html_and_base64(policy: Policy) -> None:
    markup = "<html><body><p style='color:red'><b>TLP:RED</b></p><p>Figures</p></body></html>"
    data = raw("Subject: x\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n"
               "Content-Transfer-Encoding: base64",
               base64.encodebytes(markup.encode()).decode())
    assert reading(policy, data).stamp is C


def test_a_marker_further_down_the_body_is_not_a_label(policy: Policy) -> None:
    found = reading(policy, plain("Hello,\n\nplease treat the attached as TLP:RED.\n"))
    assert found.stamp is None


@pytest.mark.parametrize(("header", "expected"), [
    ("VER=2018.4, NS=gov.au, SEC=OFFICIAL:Sensitive, ORIGIN=jane@agency.gov.au", C),
    ("VER=2018.4, NS=gov.au, SEC=OFFICIAL:Sensitive, CAVEAT=SH:CABINET, "
     "ORIGIN=jane@agency.gov.au", C),
    ("VER=2018.4,NS=gov.au,SEC=PROTECTED,ORIGIN=jane@agency.gov.au", C),
    ("ver=2018.4, ns=GOV.AU, sec=official : sensitive", C),
    ("VER=2018.4, NS=gov.au, SEC=OFFICIAL, ORIGIN=jane@agency.gov.au", INT),
    ("VER=2018.4, NS=gov.au, SEC=TOP-SECRET", C),
    ("VER=2012.3, NS=govt.nz, SEC=RESTRICTED, ORIGIN=a@b.govt.nz", C),
    ("VER=2012.3, NS=govt.nz, SEC=IN-CONFIDENCE", INT),
    ("VER=2012.3, NS=govt.nz, SEC=TOP SECRET", C),
    ("=?us-ascii?q?VER=3D2018.4=2C_NS=3Dgov.au=2C_SEC=3DPROTECTED?=", C),
])
def test_protective_marking_header_restricts(policy: Policy, header: str,
                                             expected: Stamp) -> None:
    data = raw(f"Subject: x\nX-Protective-Marking: {header}", "The story.\n")
    made = decision(policy, data)
    assert made.stamp is expected, header
    assert made.found_in == (Location.LABEL_HEADER,)
    assert "label-header" in made.rules
    assert any("X-Protective-Marking header" in r for r in made.reasons)


@pytest.mark.parametrize(("header", "problem"), [
    ("VER=2018.4, NS=gov.au, ORIGIN=a@b.gov.au", "without a SEC= classification"),
    ("VER=2018.4, NS=gov.au, SEC=SUPER-SECRET", "not mapped in labels.toml"),
])
def test_a_protective_marking_that_cannot_be_read_is_unreadable(policy: Policy, header: str,
                                                                problem: str) -> None:
    made = decision(policy, raw(f"Subject: x\nX-Protective-Marking: {header}", "The story.\n"))
    assert any(problem in u for u in made.unreadable), made.unreadable
    assert made.verdict is Verdict.HOLD


@pytest.mark.parametrize(("value", "expected"), [
    ("TLP:RED", C), ("RED", C), ("amber+strict", INT), (" TLP: Green ", INT), ("CLEAR", CL),
])
def test_tlp_header(policy: Policy, value: str, expected: Stamp) -> None:
    found = reading(policy, raw(f"Subject: x\nX-TLP: {value}", "Internal\n\nx"))
    assert [f.stamp for f in found.guarded] == [expected]
    assert found.own[0].stamp is INT  # the header is not the message's own stamp


def test_a_tlp_header_that_is_not_a_colour_is_unreadable(policy: Policy) -> None:
    found = reading(policy, raw("Subject: x\nX-TLP: PURPLE", "x"))
    assert any("X-TLP header" in u for u in found.unreadable)


def sio_policy(policy: Policy) -> Policy:
    labels = policy.labels.model_dump()
    labels["sio"] = {PARTNER_POLICY: {"unclassified": "internal", "3": "confidential"},
                     "1.1": {"confidential": "confidential", "1": "cleared"}}
    return Policy.model_validate({**policy.model_dump(), "labels": labels})


def der(policy_oid: bytes, classification: int) -> str:
    inner = bytes([0x06, len(policy_oid)]) + policy_oid + bytes([0x02, 1, classification])
    return base64.b64encode(bytes([0x31, len(inner)]) + inner).decode()


# 1.3.6.1.4.1.99999.1 in DER
PARTNER_OID = bytes([0x2B, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8D, 0x1F, 0x01])


@pytest.mark.parametrize(("header", "expected"), [
    (f'marking="SECRET"; fgcolor=black; bgcolor=red; type=":ess"; label={ESS}', C),
    (f"type=:ess; label={ESS}", C),
    (f'type=":x411"; label="{ESS}"', C),
    (f"label={der(PARTNER_OID, 3)}", C),
    (f"type=\":ess\"; label={der(PARTNER_OID, 1)}", INT),
    ('type=":xml"; label="<esssecuritylabel xmlns=\'urn:xmpp:sec-label:ess:0\'>'
     f'{ESS}</esssecuritylabel>"', C),
])
def test_sio_label_header(policy: Policy, header: str, expected: Stamp) -> None:
    mapped = sio_policy(policy)
    found = reading(mapped, raw(f"Subject: x\nSIO-Label: {header}\nSIO-Label-History: "
                                f"garbage that is never read", "x"))
    assert [f.stamp for f in found.guarded] == [expected], header
    assert found.unreadable == ()


def test_sio_label_decodes_policy_and_classification() -> None:
    assert ess_label(base64.b64decode(ESS)) == ("1.1", 3)
    assert ess_label(base64.b64decode(der(PARTNER_OID, 1))) == (PARTNER_POLICY, 1)
    label = read_header(f'marking="SECRET"; type=":ess"; label={ESS}')
    assert label is not None and label.id == "1.1:3" and "SECRET" in label.name
    assert read_header('marking="UNCLASSIFIED"') is None  # a display marking only


@pytest.mark.parametrize("header", [
    "type=:ess; label=!!!not-base64", "type=:ess; label=MQM=",  # a SET with a cut TLV
    "type=:ess; label=MAA=", "type=:other; label=MQYGASkCAQM=",
    'type=":xml"; label="<label>no ESS here</label>"',
    "type=:ess; label=" + base64.b64encode(b"\x31\x03\x02\x01\x03").decode(),  # no policy
])
def test_an_sio_label_that_cannot_be_read_is_unreadable(policy: Policy, header: str) -> None:
    with pytest.raises(SioLabelError):
        read_header(header)
    found = reading(sio_policy(policy), raw(f"Subject: x\nSIO-Label: {header}", "x"))
    assert any("SIO-Label" in u for u in found.unreadable)


def test_an_unmapped_sio_policy_is_unreadable_when_the_policy_says_so(policy: Policy) -> None:
    header = f"label={der(bytes([0x2A, 0x03]), 2)}"  # policy 1.2.3, not in the table
    found = reading(sio_policy(policy), raw(f"Subject: x\nSIO-Label: {header}", "x"))
    assert any("not mapped in labels.toml" in u for u in found.unreadable)


def test_without_a_table_a_family_is_not_read(policy: Policy) -> None:
    found = reading(policy, raw(f"Subject: x\nSIO-Label: label={ESS}", "x"))
    assert found.guarded == () and found.unreadable == ()
    bare = Policy.model_validate({**policy.model_dump(), "labels": {}})
    assert reading(bare, raw("Subject: [TLP:RED] x", "TLP:RED\n\nx")).stamp is None


@pytest.mark.parametrize(("headers", "to", "verdict", "rule"), [
    # A client's header may not open mail to communications that no stamp opens.
    ("X-TLP: CLEAR", COMMS, Verdict.BOUNCE, "unstamped.groups.communications"),
    ("X-TLP: TLP:CLEAR", OUTSIDE, Verdict.ALLOW, "unstamped.external"),
    ("TLP: CLEAR", COMMS, Verdict.BOUNCE, "unstamped.groups.communications"),
    # ... nor lower a stamp.
    ("X-TLP: CLEAR\nSubject: Internal", OUTSIDE, Verdict.BOUNCE, "internal.external"),
    ("X-Protective-Marking: VER=2018.4, NS=gov.au, SEC=OFFICIAL\nSubject: Confidential",
     OUTSIDE, Verdict.BOUNCE, "confidential.external"),
    # It restricts, whatever the stamp.
    ("X-TLP: RED\nSubject: Cleared for publication", COMMS, Verdict.BOUNCE,
     "confidential.groups.communications"),
    ("X-Protective-Marking: VER=2018.4, NS=gov.au, SEC=OFFICIAL", OUTSIDE, Verdict.BOUNCE,
     "internal.external"),
])
def test_a_clients_label_header_never_loosens(policy: Policy, headers: str, to: str,
                                              verdict: Verdict, rule: str) -> None:
    if "Subject:" not in headers:
        headers += "\nSubject: x"
    made = decision(policy, raw(headers, "The story.\n"), to)
    (only,) = made.recipients
    assert (only.verdict, only.rule) == (verdict, rule), made.reasons
    assert "label-header" in made.rules


def test_a_person_writing_tlp_clear_in_the_subject_clears_like_a_stamp(policy: Policy) -> None:
    made = decision(policy, plain("The story.", subject="TLP:CLEAR press release"), COMMS)
    assert (made.stamp, made.verdict) == (CL, Verdict.ALLOW)
    assert "Cleared for publication: label TLP:CLEAR" in made.sources


def test_a_conflict_is_recorded_and_the_strictest_wins(policy: Policy) -> None:
    made = decision(policy, plain("Cleared for publication\n\nThe story.",
                                  subject="[TLP:RED] story"))
    assert (made.stamp, made.verdict) == (C, Verdict.BOUNCE)
    conflicts = [r for r in made.reasons if r.startswith("conflict:")]
    assert conflicts == ["conflict: the stamp Cleared for publication (body) and the label "
                         "TLP:RED (subject) disagree: the label maps to Confidential; the "
                         "stricter, Confidential, decides"]
    agreeing = decision(policy, plain("Confidential\n\nx", subject="[TLP:RED] story"))
    assert not any(r.startswith("conflict:") for r in agreeing.reasons)


@pytest.mark.parametrize("inner", [
    raw("Subject: [TLP:RED] report\nFrom: a@partner.test", "The figures.\n"),
    raw("Subject: report\nFrom: a@partner.test", "TLP:RED\n\nThe figures.\n"),
    raw("Subject: report\nFrom: a@partner.test\nX-Protective-Marking: VER=2018.4, NS=gov.au, "
        "SEC=PROTECTED", "The figures.\n"),
])
def test_labels_in_an_attached_message_are_downgrade_evidence(policy: Policy,
                                                              inner: bytes) -> None:
    data = with_attached("Cleared for publication\n\nSee below.", inner)
    found = reading(policy, data)
    assert found.stamp is CL
    assert [f.stamp for f in found.embedded] == [C]
    made = decision(policy, data)
    assert made.verdict is Verdict.HOLD and made.downgrade is not None
    assert "Confidential" in made.downgrade


@pytest.mark.parametrize("body", [
    "Cleared for publication\n\nSee below.\n\n> TLP:RED\n> The figures.",
    "Cleared for publication\n\nSee below.\n\n---------- Forwarded message ---------\n"
    "From: A <a@partner.test>\nSubject: [TLP:RED] figures\n\nThe figures.",
    "Cleared for publication\n\nSee below.\n\nOn Mon, 1 Dec 2026, A <a@partner.test> wrote:\n"
    "> TLP:AMBER+STRICT\n> The figures.",
])
def test_labels_in_quoted_and_forwarded_text_are_downgrade_evidence(policy: Policy,
                                                                   body: str) -> None:
    made = decision(policy, plain(body, subject="figures"))
    assert made.stamp is CL
    assert made.verdict is Verdict.HOLD and made.downgrade is not None


@pytest.mark.parametrize(("body", "charset", "encoding"), [
    ("TLP:RED\r\n\r\nThe figures.".encode("utf-16"), "utf-16", "base64"),
    ("TLP:RED\r\n\r\nLes chiffres à jour.".encode("cp1252"), "windows-1252", "8bit"),
    (b"TL=\r\nP:R=\r\nED\r\n\r\nThe figures.", "us-ascii", "quoted-printable-raw"),
])
def test_a_body_marker_in_any_charset_and_transfer_encoding(policy: Policy, body: bytes,
                                                            charset: str,
                                                            encoding: str) -> None:
    if encoding == "quoted-printable-raw":  # soft line breaks inside the marker itself
        data = raw("Subject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n"
                   "Content-Transfer-Encoding: quoted-printable", body)
    else:
        data = encoded(body, charset, encoding, subject="figures")
    assert reading(policy, data).stamp is C


def test_a_tlp_marker_in_an_attached_document_is_downgrade_evidence(policy: Policy) -> None:
    data = documents.mail("Cleared for publication\n\nThe report.",
                          [("report.docx", documents.docx(["TLP:RED", "The figures."]))])
    found = reading(policy, data)
    assert found.stamp is CL
    assert [(f.stamp, f.location) for f in found.embedded] == [(C, Location.DOCUMENT)]
    assert "report.docx" in found.embedded[0].source


def test_a_purview_label_goes_through_the_same_combination(policy: Policy) -> None:
    guid = "f42aa342-8706-4288-bd11-ebb85995028c"
    header = f"MSIP_Label_{guid}_Enabled=True; MSIP_Label_{guid}_Name=Highly Confidential"
    made = decision(policy, raw(f"Subject: story\nmsip_labels: {header}",
                                "Cleared for publication\n\nThe story.\n"))
    assert (made.stamp, made.verdict) == (C, Verdict.BOUNCE)
    assert any(r.startswith("conflict: the stamp Cleared for publication (body) and the label "
                            "'Highly Confidential'") and "msip_labels header (label)" in r
               for r in made.reasons), made.reasons


UUID_POLICY = "2.25.173752268882518823149640294210063893456"  # an X.667 UUID arc: 128 bits


def test_an_sio_label_with_a_uuid_policy_and_der_set_order(policy: Policy) -> None:
    """DER sorts a SET's components by tag: the classification before the policy, then the
    privacy mark; the header folded, the label quoted."""
    arcs = [int(a) for a in UUID_POLICY.split(".")]
    body = b""
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        groups = [arc & 0x7F]
        arc >>= 7
        while arc:
            groups.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(groups))
    mark = b"CONFIDENTIAL"
    inner = (bytes([0x02, 1, 4, 0x06, len(body)]) + body + bytes([0x13, len(mark)]) + mark)
    label = base64.b64encode(bytes([0x31, len(inner)]) + inner).decode()
    assert ess_label(base64.b64decode(label)) == (UUID_POLICY, 4)
    labels = policy.labels.model_dump()
    labels["sio"] = {UUID_POLICY: {"4": "confidential", "3": "internal"}}
    mapped = Policy.model_validate({**policy.model_dump(), "labels": labels})
    data = raw(f'Subject: x\nSIO-Label: marking="CONFIDENTIAL"; type=":ess";\n label="{label}"',
               "The figures.\n")
    made = decision(mapped, data)
    assert (made.stamp, made.verdict) == (C, Verdict.BOUNCE)
