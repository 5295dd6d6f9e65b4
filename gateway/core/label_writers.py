"""Our stamp written in the labels partners read: the header fields of one partner's copy.

Pure: from a stamp, a partner's table and the ``partners.toml`` mappings to the exact fields
(docs/partners.md has the formats and the reasons for each mapping):

- ``X-TLP: TLP:AMBER+STRICT``, and with ``subject_tag`` the subject prefixed ``[TLP:...]``;
- ``X-Protective-Marking: VER=2018.4, NS=gov.au, SEC=OFFICIAL:Sensitive``;
- ``SIO-Label: marking="INTERNAL"; type=":ess"; label="<base64>"`` (RFC 7444), the label an
  ESS security label (RFC 2634 ``ESSSecurityLabel``) in DER, in our published policy.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.core.decision import Decision
from gateway.core.model import Stamp, Verdict
from gateway.core.partners import (
    Partner,
    PartnerPolicy,
    ProtectiveMarking,
    Tlp,
    Writer,
    partner_for,
)
from gateway.core.policy import Policy
from gateway.core.recipients import Recipient

TLP_HEADER = "X-TLP"
MARKING_HEADER = "X-Protective-Marking"
SIO_HEADER = "SIO-Label"
WRITTEN_HEADERS = (TLP_HEADER, MARKING_HEADER, SIO_HEADER)

# The display marking of each stamp (RFC 7444 ``marking``, ESS privacy mark).
MARKINGS = {
    Stamp.CLEARED: "CLEARED FOR PUBLICATION",
    Stamp.NEEDS_ADJUSTMENT: "NEEDS ADJUSTMENT",
    Stamp.INTERNAL: "INTERNAL",
    Stamp.CONFIDENTIAL: "CONFIDENTIAL",
}


@dataclass(frozen=True, slots=True)
class LabelCopy:
    """What one partner's copy carries beyond the relay's own fields."""

    fields: tuple[tuple[str, str], ...]
    subject_tag: str | None = None  # ``[TLP:RED]``, put before the subject


def label_copy(stamp: Stamp | None, partner: Partner, policy: PartnerPolicy) -> LabelCopy | None:
    """The labels a partner's copy carries; ``None`` without a stamp (we claim nothing)."""
    if stamp is None:
        return None
    writers = partner.writers
    fields: list[tuple[str, str]] = []
    tlp = tlp_label(policy.tlp_for(stamp))
    if Writer.TLP in writers:
        fields.append((TLP_HEADER, tlp))
    if Writer.PROTECTIVE_MARKING in writers:
        fields.append((MARKING_HEADER, protective_marking(stamp, policy.protective_marking)))
    if Writer.SIO_LABEL in writers:
        fields.append((SIO_HEADER, sio_label(stamp, policy.sio_label.policy_id)))
    return LabelCopy(tuple(fields), f"[{tlp}]" if partner.subject_tag else None)


def label_stamp(decision: Decision, thread_stamp: Stamp | None = None) -> Stamp | None:
    """The stamp partners' labels say: the message's own, unless stricter quoted, forwarded,
    attached or thread content went under a lower stamp without a permitted downgrade (the
    ``downgrade`` rule hit): then the strictest of them. A label never says less than the
    content carries; a permitted downgrade (management re-stamping a story) is the stamp."""
    found = [decision.stamp] if decision.stamp is not None else []
    if "downgrade" in decision.rules:
        found += [Stamp(stamp) for stamp, _, _ in decision.embedded]
        if thread_stamp is not None:
            found.append(thread_stamp)
    return max(found, key=lambda stamp: stamp.rank) if found else None


def tlp_label(level: Tlp) -> str:
    """The label as TLP 2.0 writes it: ``TLP:AMBER+STRICT``."""
    return f"TLP:{level.value}"


def has_tag(subject: str, tag: str) -> bool:
    """Whether a (decoded) subject already carries the TLP label of ``tag`` (``[TLP:RED]``),
    bracketed or not, in any case: a reply keeps one tag instead of gaining another."""
    label = tag.strip("[]").removeprefix("TLP:")
    words = r"\s*\+\s*".join(re.escape(part) for part in label.split("+"))
    return re.search(rf"TLP\s*:\s*{words}(?![A-Za-z]|\s*\+)", subject, re.IGNORECASE) is not None


def protective_marking(stamp: Stamp, settings: ProtectiveMarking) -> str:
    """The ``X-Protective-Marking`` value: ``VER=2018.4, NS=gov.au, SEC=..[, ACCESS=..]``."""
    value = f"VER={settings.version}, NS={settings.ns}, SEC={settings.sec_for(stamp)}"
    access = settings.access_for(stamp)
    return value + (f", ACCESS={access}" if access else "")


def sio_label(stamp: Stamp, policy_id: str) -> str:
    """The ``SIO-Label`` value: display marking, ``type=":ess"``, the DER label in base64."""
    label = base64.b64encode(ess_security_label(stamp, policy_id)).decode("ascii")
    return f'marking="{MARKINGS[stamp]}"; type=":ess";\r\n label="{label}"'


def classification(stamp: Stamp) -> int:
    """The security-classification of a stamp in our label policy: 1 Cleared for
    publication, 2 Needs adjustment, 3 Internal, 4 Confidential."""
    return stamp.rank


def ess_security_label(stamp: Stamp, policy_id: str) -> bytes:
    """``ESSSecurityLabel ::= SET { security-policy-identifier OBJECT IDENTIFIER,
    security-classification INTEGER, privacy-mark ESSPrivacyMark }`` in DER: a SET's
    components in ascending tag order (X.690 10.3), the privacy mark a PrintableString."""
    components = [
        _tlv(0x02, _integer(classification(stamp))),
        _tlv(0x06, _oid(policy_id)),
        _tlv(0x13, MARKINGS[stamp].encode("ascii")),
    ]
    return _tlv(0x31, b"".join(components))


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _integer(n: int) -> bytes:
    return n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True)


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    return b"".join(_base128(a) for a in [arcs[0] * 40 + arcs[1], *arcs[2:]])


def _base128(n: int) -> bytes:
    groups = [n & 0x7F]
    n >>= 7
    while n:
        groups.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(groups))


@dataclass(frozen=True, slots=True)
class Copy:
    """One copy of a relayed message: its recipients and the labels it carries, if any."""

    recipients: tuple[str, ...]
    labels: LabelCopy | None


def copies(policy: Policy, stamp: Stamp | None, recipients: Sequence[Recipient],
           single: bool = False) -> tuple[Copy, ...]:
    """The copies the allowed recipients get: recipients outside the organisation in a
    partner's domain share a copy with that partner's labels; everyone else (the
    organisation, other outside recipients) the copy without labels, as before.

    ``single``: the edge delivers one copy to all (a milter's MTA). Labels are then written
    only when every recipient gets the same ones; otherwise nobody gets any.
    """
    if not policy.partners.partners:  # nobody is written labels: the one copy as before
        return (Copy(tuple(r.address for r in recipients), None),)
    groups: dict[LabelCopy | None, list[str]] = {}
    for recipient in recipients:
        labels = None
        if not policy.is_organisation(recipient.domain):
            match = partner_for(policy.partners, recipient.domain)
            if match is not None:
                labels = label_copy(stamp, match.partner, policy.partners)
        groups.setdefault(labels, []).append(recipient.address)
    if single and len(groups) > 1:
        return (Copy(tuple(r.address for r in recipients), None),)
    return tuple(Copy(tuple(addresses), labels) for labels, addresses in groups.items())


def label_lines(policy: Policy, decision: Decision, recipients: Sequence[Recipient]) -> list[str]:
    """What partners' copies would carry, for ``policy explain``: a line per labelled copy
    (held recipients get theirs on release), nothing when no recipient is a partner's."""
    going = {r.address for r in decision.recipients if r.verdict is not Verdict.BOUNCE}
    lines: list[str] = []
    for copy in copies(policy, label_stamp(decision), [r for r in recipients
                                                       if r.address in going]):
        if copy.labels is None:
            continue
        written = "; ".join(f"{name}: {' '.join(value.split())}"
                            for name, value in copy.labels.fields)
        tag = f"; subject tagged {copy.labels.subject_tag}" if copy.labels.subject_tag else ""
        lines.append(f"  {', '.join(copy.recipients)}: {written}{tag}")
    return ["labels for partners:", *lines] if lines else []
