"""Partners' sensitivity labels as read from a message or a document, before any mapping.

The families: Microsoft Purview / AIP (``msip``), FIRST's Traffic Light Protocol (``tlp``),
the Australian and New Zealand protective markings (``protective-marking``) and RFC 7444
security labels (``sio``). How the policy maps each to a stamp is in ``label_policy.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.core.text import normalise_phrase

LABELS_FILE = "labels.toml"
MSIP = "msip"
TLP = "tlp"
PROTECTIVE_MARKING = "protective-marking"
SIO = "sio"
# MSIP_Label_<guid>_<field>: what Office writes in custom properties, PDF metadata and the
# msip_labels header.
_MSIP_KEY = re.compile(r"^\s*MSIP_Label_([0-9A-Fa-f-]{36})_([A-Za-z]+)\s*$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# A header with more fields than any real label set is read no further.
MAX_HEADER_FIELDS = 200
MAX_LABEL_VALUE = 256


@dataclass(frozen=True, slots=True)
class Label:
    """One sensitivity label as a document or a header carries it.

    ``id`` is what the policy's table for ``scheme`` is keyed by (a Purview GUID, a TLP
    colour, ``gov.au:official:sensitive``, ``1.2.3:4``); ``name`` is how people know it.
    """

    scheme: str
    id: str
    name: str
    enabled: bool

    @property
    def shown(self) -> str:
        """How reasons name the label: a Purview label by name and id, others by name."""
        if self.scheme != MSIP:
            return self.name or self.id
        return f"{self.name!r} ({self.id})" if self.name else self.id


def msip_labels(properties: Iterable[tuple[str, str]]) -> tuple[Label, ...]:
    """The Purview labels among ``MSIP_Label_<guid>_<field>`` properties, first seen first."""
    fields: dict[str, dict[str, str]] = {}
    for key, value in properties:
        match = _MSIP_KEY.match(key)
        if match is None:
            continue
        guid = match.group(1).lower()
        fields.setdefault(guid, {})[match.group(2).lower()] = value.strip()[:MAX_LABEL_VALUE]
    return tuple(Label(MSIP, guid, found.get("name", ""),
                       found.get("enabled", "").lower() == "true")
                 for guid, found in fields.items())


def msip_header(value: str) -> tuple[Label, ...]:
    """The labels of an ``msip_labels`` header: ``MSIP_Label_<guid>_Name=Internal;...``."""
    pairs: list[tuple[str, str]] = []
    for item in value.split(";", MAX_HEADER_FIELDS)[:MAX_HEADER_FIELDS]:
        key, equals, field_value = item.partition("=")
        if equals:
            pairs.append((key, field_value))
    return msip_labels(pairs)


def label_key(name_or_id: str) -> str:
    """A label name or id as the map compares it: ids in lower case, names like stamp phrases."""
    stripped = name_or_id.strip().strip("{}")
    if _GUID.match(stripped.lower()):
        return stripped.lower()
    return normalise_phrase(name_or_id)
