"""Australian and New Zealand government protective markings.

The header (Australian Government Email Protective Marking Standard, PSPF; New Zealand's
standard uses the same syntax with ``NS=govt.nz``)::

    X-Protective-Marking: VER=2018.4, NS=gov.au, SEC=OFFICIAL:Sensitive,
        CAVEAT=SH:CABINET, ORIGIN=jane.citizen@agency.gov.au

and its Subject form ``[SEC=OFFICIAL:Sensitive]`` (optionally with further fields,
``[SEC=PROTECTED, CAVEAT=SH:CABINET]``). Only ``NS`` and ``SEC`` decide the label; the
caveats and the information management markers (``ACCESS=``) are not read.
"""

from __future__ import annotations

import re
from itertools import islice

from gateway.core.labels import MAX_HEADER_FIELDS, MAX_LABEL_VALUE, PROTECTIVE_MARKING, Label
from gateway.core.text import normalise_phrase

AUSTRALIA = "gov.au"
NEW_ZEALAND = "govt.nz"
# The classifications of each namespace (folded by ``value_key``), least to most sensitive;
# Australia's list ends with the values of the earlier standards (2005, 2012).
KNOWN_VALUES: dict[str, tuple[str, ...]] = {
    AUSTRALIA: ("unofficial", "official", "official:sensitive", "protected", "secret",
                "top-secret", "unclassified", "in-confidence", "restricted", "confidential",
                "highly-protected"),
    NEW_ZEALAND: ("unclassified", "in-confidence", "sensitive", "restricted", "confidential",
                  "secret", "top-secret"),
}
MAX_HEADER_TEXT = 4096
# A Subject carries one [SEC=...] tag; past this many the rest are not looked at.
MAX_TAGS = 10
_SUBJECT_FORM = re.compile(r"\[\s*sec\s*=\s*([^,\]\[]{1,60}?)\s*(?:,[^\]\[]{0,300})?\]")
_NAMESPACE = re.compile(r"^[a-z0-9.-]{1,100}$")


class MarkingError(ValueError):
    """An ``X-Protective-Marking`` header that cannot be read."""


def value_key(value: str) -> str:
    """A classification as tables compare it: ``OFFICIAL: Sensitive`` is ``official:sensitive``,
    ``TOP SECRET`` and ``TOP-SECRET`` are ``top-secret``."""
    folded = normalise_phrase(value)
    folded = re.sub(r"\s*:\s*", ":", folded)
    return re.sub(r"[\s_\-–—]+", "-", folded).strip("-")


def namespace_key(namespace: str) -> str:
    return namespace.strip().lower().rstrip(".")


def marking(namespace: str, value: str) -> Label:
    shown = " ".join(value.split())[:MAX_LABEL_VALUE]
    return Label(PROTECTIVE_MARKING, f"{namespace_key(namespace)}|{value_key(value)}",
                 f"SEC={shown} (NS={namespace_key(namespace)})", True)


def read_header(value: str) -> Label:
    """The marking of one ``X-Protective-Marking`` header, or ``MarkingError``."""
    if len(value) > MAX_HEADER_TEXT:
        raise MarkingError("X-Protective-Marking header too long to read")
    fields: dict[str, str] = {}
    for item in value.split(",", MAX_HEADER_FIELDS)[:MAX_HEADER_FIELDS]:
        key, equals, field_value = item.partition("=")
        if equals:
            fields.setdefault(key.strip().lower(), field_value.strip())
    security = fields.get("sec", "")
    if not value_key(security):
        raise MarkingError("X-Protective-Marking header without a SEC= classification")
    namespace = namespace_key(fields.get("ns", AUSTRALIA)) or AUSTRALIA
    if not _NAMESPACE.match(namespace):
        raise MarkingError("X-Protective-Marking header with a namespace that is not a domain")
    return marking(namespace, security)


def subject_values(folded: str) -> list[str]:
    """The classifications of ``[SEC=...]`` tags in a folded Subject (which namespace they
    belong to the Subject does not say)."""
    found = [match.group(1) for match in islice(_SUBJECT_FORM.finditer(folded), MAX_TAGS)]
    return list(dict.fromkeys(found))
