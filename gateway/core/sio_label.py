"""RFC 7444 security labels: the ``SIO-Label`` header and the ESS security label it carries.

``SIO-Label: marking="SECRET"; fgcolor=black; bgcolor=red; type=":ess"; label=MQYGASkCAQM=``
carries an ESS security label (RFC 2634: a DER ``SET`` of the security policy's object
identifier and an integer classification), base64-encoded (``type=":ess"``, and the X.411
form ``":x411"``, which encodes the same two fields the same way), or as XML
(``type=":xml"``, XEP-0258's ``<esssecuritylabel>`` element around the same base64). Only
the policy identifier and the classification are read: the policy maps them to stamps.
``marking`` is a display marking (it names the label in reasons), never the label itself.
"""

from __future__ import annotations

import base64
import binascii
import re

from gateway.core.labels import MAX_LABEL_VALUE, SIO, Label

# A real label is a few dozen bytes; a header value past this is not read.
MAX_LABEL_TEXT = 8192
MAX_PARAMETERS = 20
_PARAMETER = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*?)\s*(?:;|$)')
_ESS_XML = re.compile(r"<\s*(?:[\w-]+:)?esssecuritylabel\b[^>]*>([A-Za-z0-9+/=\s]*)<",
                      re.IGNORECASE)
# ESS classification names (RFC 2634), for reasons and for keys in [labels.sio].
CLASSIFICATIONS = {"unmarked": 0, "unclassified": 1, "restricted": 2, "confidential": 3,
                   "secret": 4, "top-secret": 5}
MAX_CLASSIFICATION = 256
_SET, _OID, _INTEGER = 0x31, 0x06, 0x02


class SioLabelError(ValueError):
    """An ``SIO-Label`` header that names a label but cannot be read."""


def parameters(value: str) -> dict[str, str]:
    """The ``name=value`` parameters of the header (RFC 2045 syntax, quotes removed)."""
    found: dict[str, str] = {}
    position = 0
    while position < len(value) and len(found) < MAX_PARAMETERS:
        match = _PARAMETER.match(value, position)
        if match is None or match.end() == position:
            break
        raw = match.group(2)
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        found.setdefault(match.group(1).lower(), raw)
        position = match.end()
    return found


def read_header(value: str) -> Label | None:
    """The label of one ``SIO-Label`` header; ``None`` when it carries only a display
    marking; ``SioLabelError`` when its label cannot be read."""
    if len(value) > MAX_LABEL_TEXT:
        raise SioLabelError("SIO-Label header too long to read")
    found = parameters(value)
    text = found.get("label", "")
    if not text:
        return None
    kind = found.get("type", ":ess").strip().lower()
    if kind == ":xml":
        match = _ESS_XML.search(text)
        if match is None:
            raise SioLabelError("SIO-Label header with an XML label that is not an "
                                "esssecuritylabel element")
        text = match.group(1)
    elif kind not in (":ess", ":x411"):
        raise SioLabelError(f"SIO-Label header of an unknown type {kind[:40]!r}")
    try:
        der = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SioLabelError("SIO-Label header whose label is not base64") from exc
    policy, classification = ess_label(der)
    marking = found.get("marking", "").strip()[:MAX_LABEL_VALUE]
    number = "" if classification is None else str(classification)
    name = marking or f"policy {policy}, classification {number or 'none'}"
    return Label(SIO, f"{policy}:{number}", f"SIO-Label {name!r}", True)


def ess_label(der: bytes) -> tuple[str, int | None]:
    """The policy identifier and classification of a DER ESS security label."""
    tag, content, end = _element(der, 0)
    if tag != _SET or end != len(der):
        raise SioLabelError("SIO-Label header whose label is not an ESS security label")
    policy: str | None = None
    classification: int | None = None
    position = 0
    while position < len(content):
        tag, inner, position = _element(content, position)
        if tag == _OID and policy is None:
            policy = _oid(inner)
        elif tag == _INTEGER and classification is None:
            if not inner or len(inner) > 2 or inner[0] & 0x80:
                raise SioLabelError("SIO-Label header with a classification out of range")
            classification = int.from_bytes(inner, "big")
    if policy is None:
        raise SioLabelError("SIO-Label header whose label names no security policy")
    if classification is not None and classification > MAX_CLASSIFICATION:
        raise SioLabelError("SIO-Label header with a classification out of range")
    return policy, classification


def _element(data: bytes, position: int) -> tuple[int, bytes, int]:
    """One DER tag-length-value at ``position``: tag, content, where the next one starts."""
    if position + 2 > len(data):
        raise SioLabelError("SIO-Label header whose label is cut short")
    tag, length = data[position], data[position + 1]
    position += 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 2 or position + size > len(data):
            raise SioLabelError("SIO-Label header whose label has a bad length")
        length = int.from_bytes(data[position:position + size], "big")
        position += size
    if position + length > len(data):
        raise SioLabelError("SIO-Label header whose label is cut short")
    return tag, data[position:position + length], position + length


def _oid(content: bytes) -> str:
    if not content or content[-1] & 0x80 or len(content) > 64:
        raise SioLabelError("SIO-Label header with a bad security policy identifier")
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in (first, arcs[0] - 40 * first, *arcs[1:]))


def classification_key(key: str) -> str | None:
    """A key of a ``[labels.sio."<policy>"]`` table as a classification number."""
    folded = re.sub(r"[\s_]+", "-", key.strip().lower())
    if folded in CLASSIFICATIONS:
        return str(CLASSIFICATIONS[folded])
    if folded.isascii() and folded.isdigit() and int(folded) <= MAX_CLASSIFICATION:
        return str(int(folded))
    return None
