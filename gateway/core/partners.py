"""Partners that are sent our stamp in the labels they read: ``policies/partners.toml``.

Per destination domain the policy names the writers (``tlp``, ``protective-marking``,
``sio-label``, see ``core/label_writers.py``) whose headers that partner's copy carries, and
whether its subject is tagged ``[TLP:...]``. Nothing is written for any other recipient. The
mapping from our stamps to each scheme has defaults (docs/partners.md) that ``[tlp]``,
``[protective_marking]`` and ``[sio_label]`` may change.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.core.flaws import Flaw, ItemFlaws, fold_entry
from gateway.core.model import Stamp

PARTNERS_FILE = "partners.toml"
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]{0,38})){1,30}$")
# Email Protective Marking Standard 2018.4 (Australian PSPF): the SEC values of NS=gov.au.
GOV_AU_SEC = ("UNOFFICIAL", "OFFICIAL", "OFFICIAL:Sensitive", "PROTECTED", "SECRET",
              "TOP-SECRET")
GOV_AU_ACCESS = ("Personal-Privacy", "Legal-Privilege", "Legislative-Secrecy")
# A value another namespace may use: what the standard allows in a value, no separators.
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._/-]{0,127}$")
# 2.25 is the UUID arc (ITU-T X.667): anyone may name a thing there without registering.
# This one (UUID 82b77841-d680-4a1c-8d56-3cf6462d03d0) names stampgate's label policy 1.
STAMPGATE_POLICY_ID = "2.25.173752268882518823149640294210063893456"


class Writer(enum.Enum):
    """A label scheme the gateway can write for a partner."""

    TLP = "tlp"
    PROTECTIVE_MARKING = "protective-marking"
    SIO_LABEL = "sio-label"


class Tlp(enum.Enum):
    """The Traffic Light Protocol 2.0 labels (FIRST), least to most restricted."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"


DEFAULT_TLP: Mapping[Stamp, Tlp] = {
    Stamp.CLEARED: Tlp.CLEAR,
    Stamp.NEEDS_ADJUSTMENT: Tlp.AMBER_STRICT,
    Stamp.INTERNAL: Tlp.AMBER_STRICT,
    Stamp.CONFIDENTIAL: Tlp.RED,
}
DEFAULT_SEC: Mapping[Stamp, str] = {
    Stamp.CLEARED: "OFFICIAL",
    Stamp.NEEDS_ADJUSTMENT: "OFFICIAL:Sensitive",
    Stamp.INTERNAL: "OFFICIAL",
    Stamp.CONFIDENTIAL: "OFFICIAL:Sensitive",
}
DEFAULT_ACCESS: Mapping[Stamp, str] = {Stamp.CONFIDENTIAL: "Personal-Privacy"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Partner(_Frozen):
    """``[partners."domain"]``: what that partner's copy carries."""

    write: tuple[str, ...] = Field(min_length=1)
    subject_tag: bool = False
    include_subdomains: bool = False

    @field_validator("write")
    @classmethod
    def _write(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = [w.value for w in Writer]
        flaws: list[Flaw] = []
        seen: set[str] = set()
        for name in value:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                flaws.append(Flaw(name, "is not a label the gateway writes",
                                  (f"did you mean {close[0]!r}? " if close else "")
                                  + "the writers are " + ", ".join(known)))
            elif name in seen:
                flaws.append(Flaw(name, "is listed twice", "remove one of the two", True))
            seen.add(name)
        if flaws:
            raise ItemFlaws(flaws)
        return value

    @model_validator(mode="after")
    def _tag_needs_tlp(self) -> Partner:
        if self.subject_tag and Writer.TLP.value not in self.write:
            raise ValueError('subject_tag writes the TLP label: add "tlp" to write, or remove '
                             "subject_tag")
        return self

    @property
    def writers(self) -> frozenset[Writer]:
        return frozenset(Writer(w) for w in self.write)


class ProtectiveMarking(_Frozen):
    """``[protective_marking]``: the ``X-Protective-Marking`` namespace and values."""

    version: str = "2018.4"
    ns: str = "gov.au"
    sec: dict[Stamp, str] = Field(default_factory=dict)
    access: dict[Stamp, str] | None = None  # None: the defaults; {} writes no ACCESS

    @model_validator(mode="after")
    def _values(self) -> ProtectiveMarking:
        if not re.fullmatch(r"[0-9]{4}\.[0-9]{1,2}", self.version):
            raise ValueError(f"version {self.version!r} is not a standard's version like 2018.4")
        if not _DOMAIN.match(self.ns):
            raise ValueError(f"ns {self.ns!r} is not a namespace like gov.au")
        gov_au = self.ns == "gov.au"
        for table, allowed in (("sec", GOV_AU_SEC), ("access", GOV_AU_ACCESS)):
            for stamp, value in (getattr(self, table) or {}).items():
                if gov_au and value not in allowed:
                    raise ValueError(f"{table}.{stamp.value} = {value!r} is not a value of "
                                     f"NS=gov.au; write one of {', '.join(allowed)}")
                if not _TOKEN.match(value):
                    raise ValueError(f"{table}.{stamp.value} = {value!r} may hold only letters, "
                                     "digits and : . _ / -")
        return self

    def sec_for(self, stamp: Stamp) -> str:
        return self.sec.get(stamp, DEFAULT_SEC[stamp])

    def access_for(self, stamp: Stamp) -> str | None:
        return (DEFAULT_ACCESS if self.access is None else self.access).get(stamp)


class SioLabel(_Frozen):
    """``[sio_label]``: the security policy the ``SIO-Label`` is expressed in."""

    policy_id: str = STAMPGATE_POLICY_ID

    @field_validator("policy_id")
    @classmethod
    def _oid(cls, value: str) -> str:
        if not _OID.match(value) or (value[0] in "01" and int(value.split(".")[1]) > 39):
            raise ValueError(f"{value!r} is not an object identifier like 2.25.1234 "
                             "(dotted decimal; under 0 and 1 the second arc is at most 39)")
        return value


class PartnerPolicy(_Frozen):
    """The whole ``partners.toml``; without the file nobody is written labels."""

    partners: dict[str, Partner] = Field(default_factory=dict)
    tlp: dict[Stamp, Tlp] = Field(default_factory=dict)
    protective_marking: ProtectiveMarking = ProtectiveMarking()
    sio_label: SioLabel = SioLabel()

    @field_validator("partners")
    @classmethod
    def _domains(cls, value: dict[str, Partner]) -> dict[str, Partner]:
        flaws = domain_flaws(value)
        if flaws:
            raise ItemFlaws(flaws)
        return {fold_entry(d): p for d, p in value.items()}

    def summary(self) -> str:
        """One line for ``policy check``: who is written which labels."""
        if not self.partners:
            return "none (no labels are written)"
        return "; ".join(
            f"{domain}{' and subdomains' if p.include_subdomains else ''} "
            f"{', '.join(p.write)}{' + subject tag' if p.subject_tag else ''}"
            for domain, p in sorted(self.partners.items()))

    def tlp_for(self, stamp: Stamp) -> Tlp:
        return self.tlp.get(stamp, DEFAULT_TLP[stamp])

    def clashes(self, organisation: Iterable[str]) -> list[tuple[str, str]]:
        """(partner domain, organisation domain) pairs where a partner would cover us."""
        found = []
        for domain, partner in self.partners.items():
            for own in organisation:
                if own == domain or (partner.include_subdomains and own.endswith("." + domain)):
                    found.append((domain, own))
        return found


def domain_flaws(domains: Iterable[str]) -> list[Flaw]:
    """What is wrong with the partner domains as written: not a domain, or twice."""
    flaws: list[Flaw] = []
    seen: set[str] = set()
    for domain in domains:
        folded = fold_entry(domain)
        if folded.startswith(("*.", "@")):
            flaws.append(Flaw(domain, "is not a domain name",
                              f'write "{folded.lstrip("*.@")}" and, for its subdomains, '
                              "include_subdomains = true"))
        elif not _DOMAIN.match(folded):
            flaws.append(Flaw(domain, "is not a domain name",
                              "write it like unhcr.org (ASCII; punycode for other scripts)"))
        elif folded in seen:
            flaws.append(Flaw(domain, "is listed twice (domains ignore case)",
                              "keep one of the two tables", True))
        seen.add(folded)
    return flaws


@dataclass(frozen=True, slots=True)
class PartnerMatch:
    """The partner a recipient domain belongs to: the table's domain and its settings."""

    domain: str
    partner: Partner


def partner_for(policy: PartnerPolicy, domain: str) -> PartnerMatch | None:
    """The partner table for a recipient's domain: the exact domain, else the nearest parent
    domain that includes its subdomains; ``None`` for everyone else."""
    domain = fold_entry(domain)
    exact = policy.partners.get(domain)
    if exact is not None:
        return PartnerMatch(domain, exact)
    labels = domain.split(".")
    for start in range(1, len(labels) - 1):
        parent = ".".join(labels[start:])
        found = policy.partners.get(parent)
        if found is not None and found.include_subdomains:
            return PartnerMatch(parent, found)
    return None
