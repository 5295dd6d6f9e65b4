"""The policy files in ``policies/`` parsed into validated, frozen models."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.core.flaws import Flaw as Flaw
from gateway.core.flaws import ItemFlaws as ItemFlaws
from gateway.core.flaws import fold_entry as fold_entry
from gateway.core.label_policy import LabelMap, LabelPolicy
from gateway.core.model import Stamp, Verdict
from gateway.core.partners import PartnerPolicy
from gateway.core.photos import PhotoPolicy
from gateway.core.stamps import Vocabulary
from gateway.core.text import normalise_phrase

M = TypeVar("M", bound=BaseModel)

ORGANISATION_FILE = "organisation.toml"
STAMPS_FILE = "stamps.toml"
RULES_FILE = "rules.toml"
GROUPS_DIR = "groups"

_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_ADDRESS = re.compile(r"^[a-z0-9!#$&'*+/=?^_`{|}~.-]+@" + _DOMAIN.pattern[1:])


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def is_group_name(name: str) -> bool:
    """Group names (and so group file names) are lower-case letters, digits, ``-`` and ``_``."""
    return bool(_GROUP_NAME.match(name))


def member_flaw(member: str) -> Flaw | None:
    """Why ``member`` is not a group member (``name@domain`` or ``@domain``), if it is not."""
    folded = fold_entry(member)
    if folded.startswith("@"):
        if not _DOMAIN.match(folded[1:]):
            return Flaw(member, "is not a whole-domain member",
                        "write a whole domain as @partner.test (ASCII; punycode for other scripts)")
    elif not _ADDRESS.match(folded):
        return Flaw(member, "is not a valid address",
                    "write an address as name@example.org, a whole domain as @partner.test")
    return None


def _fold_list(values: tuple[str, ...], check: Callable[[str], Flaw | None],
               what: str) -> tuple[str, ...]:
    flaws: list[Flaw] = []
    seen: set[str] = set()
    for value in values:
        folded = fold_entry(value)
        flaw = check(value)
        if flaw is not None:
            flaws.append(flaw)
        elif folded in seen:
            flaws.append(Flaw(value, f"{what} is listed twice", "remove one of the two", True))
        seen.add(folded)
    if flaws:
        raise ItemFlaws(flaws)
    return tuple(fold_entry(v) for v in values)


def _domain_flaw(domain: str) -> Flaw | None:
    if not _DOMAIN.match(fold_entry(domain)):
        return Flaw(domain, "is not a domain name",
                    "write it like example.org (ASCII; punycode for other scripts)")
    return None


class Organisation(_Frozen):
    """Who the organisation is."""

    name: str = "Our organisation"
    domains: tuple[str, ...] = Field(min_length=1)
    plus_separator: str = Field(default="+", max_length=1)
    reviewers: str = "management"
    may_downgrade: tuple[str, ...] = ("management",)
    # Groups that get what goes outside, as far as the protected-client register is concerned.
    register_guards: tuple[str, ...] = ("communications",)

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _fold_list(value, _domain_flaw, "domain")


class StampVocabulary(_Frozen):
    """The phrases that name one stamp, in any language."""

    phrases: tuple[str, ...] = Field(min_length=1)
    description: str = ""
    # [cleared] only: words that, first after the phrase, take the clearance back
    # ("- not yet", "- pending review"), and answers that do standing alone ("Cleared for
    # publication: no", not "- no faces, pseudonym used"): core/withdrawal.py.
    withdrawn_by: tuple[str, ...] = ()
    withdrawn_alone: tuple[str, ...] = ()

    @field_validator("phrases", "withdrawn_by", "withdrawn_alone")
    @classmethod
    def _phrases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for phrase in value:
            if not normalise_phrase(phrase):
                raise ValueError(f"phrase {phrase!r} is empty once normalised")
        return value


class AudienceRule(_Frozen):
    """What one stamp allows for each audience."""

    organisation: Verdict
    external: Verdict
    thread: Verdict | None = None
    groups: dict[str, Verdict] = Field(default_factory=dict)
    description: str = ""


class Rules(_Frozen):
    """One audience rule per stamp, plus unstamped mail and unreadable content."""

    cleared: AudienceRule
    needs_adjustment: AudienceRule
    internal: AudienceRule
    confidential: AudienceRule
    unstamped: AudienceRule
    unreadable: AudienceRule

    def for_stamp(self, stamp: Stamp | None) -> tuple[str, AudienceRule]:
        if stamp is None:
            return "unstamped", self.unstamped
        return stamp.value, getattr(self, stamp.value)

    def named(self) -> Iterable[tuple[str, AudienceRule]]:
        for name in type(self).model_fields:
            yield name, getattr(self, name)


class Group(_Frozen):
    """A recipient group: addresses, whole domains (``@partner.test``) and nested groups."""

    description: str = ""
    members: tuple[str, ...] = ()
    include: tuple[str, ...] = ()

    @field_validator("members")
    @classmethod
    def _members(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _fold_list(value, member_flaw, "member")


class Policy(_Frozen):
    """The whole policy, frozen; ``version`` is a hash of the files it came from."""

    organisation: Organisation
    stamps: dict[Stamp, StampVocabulary]
    rules: Rules
    groups: dict[str, Group]
    version: str
    source: str = ""
    labels: LabelPolicy = LabelPolicy()
    photos: PhotoPolicy = PhotoPolicy()
    partners: PartnerPolicy = PartnerPolicy()

    def model_post_init(self, context: Any, /) -> None:
        self.index  # noqa: B018 -- build the look-up tables once, while loading

    @cached_property
    def index(self) -> PolicyIndex:
        """Plain look-up tables for the hot path (pydantic attribute access is slow)."""
        return PolicyIndex(self)

    @property
    def vocabulary(self) -> Vocabulary:
        return self.index.vocabulary

    def groups_of(self, address: str, domain: str) -> frozenset[str]:
        """Every group (nested ones resolved) that a normalised address belongs to. O(1)."""
        return self.index.groups_of(address, domain)

    def members_of(self, group: str) -> frozenset[str]:
        return self.index.expanded.get(group, frozenset())

    def is_organisation(self, domain: str) -> bool:
        return domain in self.index.domains


class PolicyIndex:
    """Group membership by address and by domain, the organisation's domains, the vocabulary."""

    __slots__ = ("by_address", "by_domain", "domains", "expanded", "vocabulary")

    def __init__(self, policy: Policy) -> None:
        by_address: dict[str, set[str]] = {}
        by_domain: dict[str, set[str]] = {}
        expanded = {name: _expand(name, policy.groups) for name in policy.groups}
        for name, members in expanded.items():
            for member in members:
                table = by_domain if member.startswith("@") else by_address
                table.setdefault(member.lstrip("@"), set()).add(name)
        self.by_address = {k: frozenset(v) for k, v in by_address.items()}
        self.by_domain = {k: frozenset(v) for k, v in by_domain.items()}
        self.expanded = expanded
        self.domains = frozenset(policy.organisation.domains)
        self.vocabulary = Vocabulary({s: v.phrases for s, v in policy.stamps.items()},
                                     LabelMap.of(policy.labels),
                                     policy.stamps[Stamp.CLEARED].withdrawn_by,
                                     withdrawn_alone=policy.stamps[Stamp.CLEARED].withdrawn_alone)

    def groups_of(self, address: str, domain: str) -> frozenset[str]:
        direct = self.by_address.get(address, _NO_GROUPS)
        by_domain = self.by_domain.get(domain)
        return direct | by_domain if by_domain else direct

    def is_organisation(self, domain: str) -> bool:
        return domain in self.domains


_NO_GROUPS: frozenset[str] = frozenset()


def _expand(name: str, groups: Mapping[str, Group], trail: tuple[str, ...] = ()) -> frozenset[str]:
    if name in trail:
        raise AssertionError("group cycles are refused while loading")
    group = groups[name]
    members = set(group.members)
    for inner in group.include:
        members |= _expand(inner, groups, (*trail, name))
    return frozenset(members)
