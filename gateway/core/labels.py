"""Partners' sensitivity labels (Microsoft Purview / AIP) and how the policy maps them to stamps."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.core.model import Stamp
from gateway.core.text import normalise_phrase

LABELS_FILE = "labels.toml"
MSIP = "msip"
# MSIP_Label_<guid>_<field>: what Office writes in custom properties, PDF metadata and the
# msip_labels header.
_MSIP_KEY = re.compile(r"^\s*MSIP_Label_([0-9A-Fa-f-]{36})_([A-Za-z]+)\s*$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# A header with more fields than any real label set is read no further.
MAX_HEADER_FIELDS = 200
MAX_LABEL_VALUE = 256


@dataclass(frozen=True, slots=True)
class Label:
    """One sensitivity label as a document or a header carries it."""

    scheme: str
    id: str
    name: str
    enabled: bool

    @property
    def shown(self) -> str:
        """How reasons name the label: its name, else its id."""
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


class LabelPolicy(BaseModel):
    """``[labels]`` in labels.toml: label names or ids per scheme, mapped to our stamps.

    One table per scheme (``[labels.msip]`` today), so that other schemes can be added beside
    it; ``unknown`` says what an enabled label that no table names does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    unknown: Literal["unreadable", "ignore"] = "unreadable"
    msip: dict[str, Stamp] = Field(default_factory=dict)

    @field_validator("msip")
    @classmethod
    def _keys(cls, value: dict[str, Stamp]) -> dict[str, Stamp]:
        seen: dict[str, str] = {}
        for key in value:
            folded = label_key(key)
            if not folded:
                raise ValueError(f"label name {key!r} is empty once normalised")
            if folded in seen:
                raise ValueError(f"labels {seen[folded]!r} and {key!r} are the same label")
            seen[folded] = key
        return value


def label_key(name_or_id: str) -> str:
    """A label name or id as the map compares it: ids in lower case, names like stamp phrases."""
    stripped = name_or_id.strip().strip("{}")
    if _GUID.match(stripped.lower()):
        return stripped.lower()
    return normalise_phrase(name_or_id)


class LabelMap:
    """The policy's label tables, folded for look-up (plain dicts: the hot path)."""

    __slots__ = ("tables", "unknown_unreadable")

    def __init__(self, tables: Mapping[str, Mapping[str, Stamp]] | None = None,
                 unknown_unreadable: bool = False) -> None:
        self.tables = {scheme: {label_key(k): v for k, v in table.items()}
                       for scheme, table in (tables or {}).items()}
        self.unknown_unreadable = unknown_unreadable

    @classmethod
    def of(cls, policy: LabelPolicy) -> LabelMap:
        return cls({MSIP: policy.msip}, policy.unknown == "unreadable")

    def stamp_for(self, label: Label) -> Stamp | None:
        """The stamp a label maps to: by id first, then by name."""
        table = self.tables.get(label.scheme, {})
        found = table.get(label.id)
        if found is None and label.name:
            found = table.get(label_key(label.name))
        return found
