"""``[labels]`` in labels.toml: each label family's table, mapped to our stamps, validated."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from gateway.core import protective_marking, sio_label, tlp
from gateway.core.flaws import Flaw, ItemFlaws
from gateway.core.labels import MSIP, PROTECTIVE_MARKING, SIO, TLP, Label, label_key
from gateway.core.model import Stamp

NONE = "none"
_STAMP_WORDS = ", ".join(s.value for s in Stamp)
# An object identifier; an arc may be as long as a UUID's (2.25.<128-bit number>, X.667).
_POLICY_ID = re.compile(r"^[0-2](?:\.(?:0|[1-9][0-9]{0,39})){1,40}$")


def _stamp_or_none(value: object) -> object:
    """A stamp's name, or ``none``: the label is known and says nothing about the audience."""
    if isinstance(value, str) and value.strip().lower() == NONE:
        return None
    if isinstance(value, str) and value not in {s.value for s in Stamp}:
        raise ValueError(f"is not a stamp (write one of {_STAMP_WORDS}, or {NONE})")
    return value


# A stamp, or None for "none".
Mapped = Annotated[Stamp | None, BeforeValidator(_stamp_or_none)]


def _folded_keys(table: Mapping[str, object], fold: Callable[[str], str | None],
                 bad: Callable[[str], Flaw], what: str,
                 below: tuple[str, ...] = ()) -> dict[str, str]:
    """Each key of ``table`` folded by ``fold``; bad and duplicate keys raise ``ItemFlaws``
    (``below``: where ``table`` is under the field validated)."""
    flaws: list[Flaw] = []
    seen: dict[str, str] = {}
    for key in table:
        folded = fold(key)
        if folded is None:
            flaws.append(replace(bad(key), path=(*below, key)))
        elif folded in seen:
            flaws.append(Flaw(key, f"{seen[folded]!r} and {key!r} are the same {what}",
                              "remove one of the two", later=True, path=(*below, key)))
        else:
            seen[folded] = key
    if flaws:
        raise ItemFlaws(flaws)
    return {folded: key for folded, key in seen.items()}


def _tlp_flaw(key: str) -> Flaw:
    return Flaw(key, f"{key!r} is not a TLP colour",
                "the colours are TLP:RED, TLP:AMBER+STRICT, TLP:AMBER, TLP:GREEN, TLP:CLEAR "
                "(TLP:WHITE is TLP 1.0's name for CLEAR)")


class LabelPolicy(BaseModel):
    """``[labels]``: one table per label family, mapping its labels to our stamps.

    ``unknown`` says what a label that no table names does (``unreadable`` or ``ignore``); a
    family without a table is not read at all.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    unknown: Literal["unreadable", "ignore"] = "unreadable"
    msip: dict[str, Stamp] = Field(default_factory=dict)
    tlp: dict[str, Mapped] = Field(default_factory=dict)
    protective_marking: dict[str, dict[str, Mapped]] = Field(
        default_factory=dict, alias="protective-marking")
    sio: dict[str, dict[str, Mapped]] = Field(default_factory=dict)

    @field_validator("msip")
    @classmethod
    def _msip_keys(cls, value: dict[str, Stamp]) -> dict[str, Stamp]:
        seen: dict[str, str] = {}
        for key in value:
            folded = label_key(key)
            if not folded:
                raise ValueError(f"label name {key!r} is empty once normalised")
            if folded in seen:
                raise ValueError(f"labels {seen[folded]!r} and {key!r} are the same label")
            seen[folded] = key
        return value

    @field_validator("tlp")
    @classmethod
    def _tlp_keys(cls, value: dict[str, Stamp | None]) -> dict[str, Stamp | None]:
        folded = _folded_keys(value, tlp.policy_key, _tlp_flaw, "colour")
        missing = [f"TLP:{c.upper()}" for c in tlp.COLOURS if c not in folded]
        if value and missing:
            raise ValueError(f"maps some TLP colours but not {', '.join(missing)}: map every "
                             "colour (a TLP colour without a stamp would be read as no label)")
        return value

    @field_validator("protective_marking")
    @classmethod
    def _marking_keys(cls, value: dict[str, dict[str, Stamp | None]]
                      ) -> dict[str, dict[str, Stamp | None]]:
        _folded_keys(value, _namespace, lambda k: Flaw(
            k, f"{k!r} is not a namespace", 'write the NS= value, e.g. "gov.au" or "govt.nz"'),
            "namespace")
        for namespace, table in value.items():
            known = protective_marking.KNOWN_VALUES.get(protective_marking.namespace_key(
                namespace))

            def fold(key: str, known: tuple[str, ...] | None = known) -> str | None:
                folded = protective_marking.value_key(key)
                return folded if folded and (known is None or folded in known) else None

            _folded_keys(table, fold, _marking_flaw(namespace, known), "classification",
                         (namespace,))
        return value

    @field_validator("sio")
    @classmethod
    def _sio_keys(cls, value: dict[str, dict[str, Stamp | None]]
                  ) -> dict[str, dict[str, Stamp | None]]:
        _folded_keys(value, lambda k: k.strip() if _POLICY_ID.match(k.strip()) else None,
                     lambda k: Flaw(k, f"{k!r} is not a security policy identifier",
                                    'write the policy\'s object identifier, e.g. "1.3.6.1.4.1.'
                                    '12345.1"'), "security policy")
        for oid, table in value.items():
            _folded_keys(table, sio_label.classification_key, lambda k: Flaw(
                k, f"{k!r} is not a classification",
                "write its number (0 to 256) or unmarked, unclassified, restricted, "
                "confidential, secret, top-secret"), "classification", (oid,))
        return value


def _marking_flaw(namespace: str, known: tuple[str, ...] | None) -> Callable[[str], Flaw]:
    hint = ("the classifications are " + ", ".join(known) if known
            else "write the SEC= value")
    return lambda key: Flaw(key, f"{key!r} is not a classification of {namespace}", hint)


def _namespace(key: str) -> str | None:
    folded = protective_marking.namespace_key(key)
    return folded if re.match(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)+$", folded) else None


class LabelMap:
    """The policy's label tables, folded for look-up (plain dicts: the hot path).

    A value of ``None`` in a table means "known, no opinion": read, and not unreadable.
    """

    __slots__ = ("tables", "unknown_unreadable")

    def __init__(self, tables: Mapping[str, Mapping[str, Stamp | None]] | None = None,
                 unknown_unreadable: bool = False) -> None:
        self.tables = {scheme: {label_key(k): v for k, v in table.items()}
                       for scheme, table in (tables or {}).items()}
        self.unknown_unreadable = unknown_unreadable

    @classmethod
    def of(cls, policy: LabelPolicy) -> LabelMap:
        made = cls({MSIP: policy.msip}, policy.unknown == "unreadable")
        made.tables[TLP] = {tlp.policy_key(k) or k: v for k, v in policy.tlp.items()}
        made.tables[PROTECTIVE_MARKING] = {
            f"{protective_marking.namespace_key(ns)}|{protective_marking.value_key(k)}": v
            for ns, table in policy.protective_marking.items() for k, v in table.items()}
        made.tables[SIO] = {f"{oid.strip()}:{sio_label.classification_key(k)}": v
                            for oid, table in policy.sio.items() for k, v in table.items()}
        return made

    def known(self, label: Label) -> bool:
        """Whether a table names the label (by id, or a Purview label by name)."""
        table = self.tables.get(label.scheme, {})
        return label.id in table or (label.scheme == MSIP and label_key(label.name) in table)

    def stamp_for(self, label: Label) -> Stamp | None:
        """The stamp a label maps to: by id first, then (Purview) by name."""
        table = self.tables.get(label.scheme, {})
        found = table.get(label.id)
        if found is None and label.name and label.scheme == MSIP:
            found = table.get(label_key(label.name))
        return found

    def reads(self, scheme: str) -> bool:
        """Whether the policy has a table for ``scheme`` (a family without one is not read)."""
        return bool(self.tables.get(scheme))

    def namespaces(self) -> tuple[str, ...]:
        """The protective-marking namespaces the policy maps, in its order."""
        table = self.tables.get(PROTECTIVE_MARKING, {})
        return tuple(dict.fromkeys(key.split("|", 1)[0] for key in table))
