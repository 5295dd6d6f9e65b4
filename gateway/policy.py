"""The policy files in ``policies/`` parsed into validated, frozen models."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from gateway.model import Stamp, Verdict
from gateway.stamps import Vocabulary
from gateway.text import normalise_phrase

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


class Organisation(_Frozen):
    """Who the organisation is."""

    name: str = "Our organisation"
    domains: tuple[str, ...] = Field(min_length=1)
    plus_separator: str = Field(default="+", max_length=1)
    reviewers: str = "management"
    may_downgrade: tuple[str, ...] = ("management",)

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(d.strip().lower().rstrip(".") for d in value)
        for domain in cleaned:
            if not _DOMAIN.match(domain):
                raise ValueError(f"{domain!r} is not a domain name (write it like example.org)")
        if len(set(cleaned)) != len(cleaned):
            dup = next(d for d in cleaned if cleaned.count(d) > 1)
            raise ValueError(f"domain {dup!r} is listed twice")
        return cleaned


class StampVocabulary(_Frozen):
    """The phrases that name one stamp, in any language."""

    phrases: tuple[str, ...] = Field(min_length=1)
    description: str = ""

    @field_validator("phrases")
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
        cleaned = tuple(m.strip().lower().rstrip(".") for m in value)
        seen: set[str] = set()
        for member in cleaned:
            if member.startswith("@"):
                if not _DOMAIN.match(member[1:]):
                    raise ValueError(f"{member!r} is not a whole-domain member (write @partner.test)")
            elif not _ADDRESS.match(member):
                raise ValueError(f"{member!r} is not a valid address")
            if member in seen:
                raise ValueError(f"member {member!r} is listed twice")
            seen.add(member)
        return cleaned


class Policy(_Frozen):
    """The whole policy, frozen; ``version`` is a hash of the files it came from."""

    organisation: Organisation
    stamps: dict[Stamp, StampVocabulary]
    rules: Rules
    groups: dict[str, Group]
    version: str
    source: str = ""

    _by_address: dict[str, frozenset[str]] = PrivateAttr(default_factory=dict)
    _by_domain: dict[str, frozenset[str]] = PrivateAttr(default_factory=dict)
    _expanded: dict[str, frozenset[str]] = PrivateAttr(default_factory=dict)
    _vocabulary: Vocabulary | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        by_address: dict[str, set[str]] = {}
        by_domain: dict[str, set[str]] = {}
        expanded = {name: _expand(name, self.groups) for name in self.groups}
        for name, members in expanded.items():
            for member in members:
                index = by_domain if member.startswith("@") else by_address
                index.setdefault(member.lstrip("@"), set()).add(name)
        self._by_address = {k: frozenset(v) for k, v in by_address.items()}
        self._by_domain = {k: frozenset(v) for k, v in by_domain.items()}
        self._expanded = expanded
        self._vocabulary = Vocabulary({s: v.phrases for s, v in self.stamps.items()})

    @property
    def vocabulary(self) -> Vocabulary:
        assert self._vocabulary is not None
        return self._vocabulary

    def groups_of(self, address: str, domain: str) -> frozenset[str]:
        """Every group (nested ones resolved) that a normalised address belongs to. O(1)."""
        direct = self._by_address.get(address, frozenset())
        by_domain = self._by_domain.get(domain, frozenset())
        return direct | by_domain if by_domain else direct

    def members_of(self, group: str) -> frozenset[str]:
        return self._expanded.get(group, frozenset())

    def is_organisation(self, domain: str) -> bool:
        return domain in self.organisation.domains


def _expand(name: str, groups: Mapping[str, Group], trail: tuple[str, ...] = ()) -> frozenset[str]:
    if name in trail:
        raise AssertionError("group cycles are refused while loading")
    group = groups[name]
    members = set(group.members)
    for inner in group.include:
        members |= _expand(inner, groups, (*trail, name))
    return frozenset(members)


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong in the policy files, said so an admin can fix it."""

    file: str
    key: str
    value: str
    message: str
    line: int | None = None
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.key}: {self.message}"
        if self.value:
            text += f" (value: {self.value})"
        if self.hint:
            text += f"; hint: {self.hint}"
        return text


class PolicyError(Exception):
    """The policy files could not be loaded; ``problems`` says each thing wrong."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Reader:
    """Collects the files' text and the problems found while reading them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.texts: dict[str, str] = {}
        self.problems: list[PolicyProblem] = []

    def load(self, relative: str, required: bool = True) -> dict[str, Any] | None:
        path = self.directory / relative
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if required:
                self.problems.append(
                    PolicyProblem(relative, "(file)", "", "file is missing",
                                  hint=f"create {path}, see policies/README.md")
                )
            return None
        except OSError as exc:
            self.problems.append(PolicyProblem(relative, "(file)", "", f"cannot read: {exc}"))
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.problems.append(
                PolicyProblem(relative, "(file)", "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            )
            return None
        self.texts[relative] = text
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
            self.problems.append(
                PolicyProblem(relative, "(syntax)", "", f"not valid TOML: {exc}", line=line,
                              hint="check quotes, brackets and '=' on that line")
            )
            return None

    def add(self, relative: str, key: str, value: object, message: str, hint: str = "") -> None:
        shown = "" if value is None else _show(value)
        line = _find_line(self.texts.get(relative, ""), key, value)
        self.problems.append(PolicyProblem(relative, key, shown, message, line, hint))

    def validation(self, relative: str, prefix: str, error: ValidationError) -> None:
        for item in error.errors():
            key = ".".join([prefix, *(str(p) for p in item["loc"])]).strip(".")
            message = item["msg"].removeprefix("Value error, ")
            value = item.get("input")
            if item["type"] == "missing":
                value = None
                message = "is required"
            elif item["type"] == "extra_forbidden":
                message = "is not a known key"
            elif item["type"] == "enum":
                message = "must be one of allow, hold, bounce"
            if isinstance(value, dict | list) and item["type"] != "extra_forbidden":
                value = None
            self.add(relative, key, value, message)


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _line_from_message(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _find_line(text: str, key: str, value: object) -> int | None:
    """Best-effort line of a key (or of a bad value) in a TOML text."""
    if not text:
        return None
    needles = []
    if isinstance(value, str) and value:
        needles.append(f'"{value}"')
    last = key.split(".")[-1]
    if not last.isdigit():
        needles.append(last)
    for needle in needles:
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.split("#", 1)[0]
            if needle in stripped:
                return number
    return None


def policy_version(texts: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(texts):
        digest.update(name.encode() + b"\0" + texts[name].encode() + b"\0")
    return digest.hexdigest()[:12]


def load_policy(directory: str | Path) -> Policy:
    """Read and check every policy file; raise ``PolicyError`` naming each problem."""
    root = Path(directory)
    if not root.is_dir():
        raise PolicyError([PolicyProblem(str(root), "(directory)", "", "policy directory not found",
                                         hint="pass --policies DIR")])
    reader = _Reader(root)
    organisation = _model(reader, ORGANISATION_FILE, "", Organisation)
    stamps = _stamps(reader)
    rules = _model(reader, RULES_FILE, "", Rules)
    groups = _groups(reader)
    if reader.problems:
        raise PolicyError(reader.problems)
    assert organisation is not None and stamps is not None and rules is not None
    _cross_check(reader, organisation, stamps, rules, groups)
    if reader.problems:
        raise PolicyError(reader.problems)
    return Policy(organisation=organisation, stamps=stamps, rules=rules, groups=groups,
                  version=policy_version(reader.texts), source=str(root))


def _model(reader: _Reader, relative: str, prefix: str, cls: type[M]) -> M | None:
    data = reader.load(relative)
    if data is None:
        return None
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        reader.validation(relative, prefix, exc)
        return None


def _stamps(reader: _Reader) -> dict[Stamp, StampVocabulary] | None:
    data = reader.load(STAMPS_FILE)
    if data is None:
        return None
    result: dict[Stamp, StampVocabulary] = {}
    known = {s.value for s in Stamp}
    for key, value in data.items():
        if key not in known:
            reader.add(STAMPS_FILE, key, None, "is not a stamp",
                       hint="the stamps are " + ", ".join(sorted(known)))
            continue
        if not isinstance(value, dict):
            reader.add(STAMPS_FILE, key, value, "must be a table with phrases = [...]")
            continue
        try:
            result[Stamp(key)] = StampVocabulary.model_validate(value)
        except ValidationError as exc:
            reader.validation(STAMPS_FILE, key, exc)
    for stamp in Stamp:
        if stamp.value not in data:
            reader.add(STAMPS_FILE, stamp.value, None, "is missing",
                       hint=f"add [{stamp.value}] with phrases = [...]")
    owner: dict[str, Stamp] = {}
    for stamp, vocabulary in result.items():
        for phrase in vocabulary.phrases:
            norm = normalise_phrase(phrase)
            other = owner.get(norm)
            if other is not None and other is not stamp:
                reader.add(STAMPS_FILE, f"{stamp.value}.phrases", phrase,
                           f"collides with a phrase of {other.value}",
                           hint="a phrase may name only one stamp")
            owner[norm] = stamp
    return result


def _groups(reader: _Reader) -> dict[str, Group]:
    groups: dict[str, Group] = {}
    folder = reader.directory / GROUPS_DIR
    if not folder.is_dir():
        return groups
    for path in sorted(folder.glob("*.toml")):
        relative = f"{GROUPS_DIR}/{path.name}"
        name = path.stem
        if not _GROUP_NAME.match(name):
            reader.add(relative, "(file name)", name,
                       "a group file name must be lower-case letters, digits, - or _")
            continue
        group = _model(reader, relative, "", Group)
        if group is not None:
            if not group.members and not group.include:
                reader.add(relative, "members", None, "the group is empty",
                           hint="list members = [...] or include = [...], or delete the file")
            groups[name] = group
    return groups


def _cross_check(reader: _Reader, organisation: Organisation, stamps: Mapping[Stamp, StampVocabulary],
                 rules: Rules, groups: Mapping[str, Group]) -> None:
    known = ", ".join(sorted(groups)) or "none defined"
    for name, rule in rules.named():
        for group in rule.groups:
            if group not in groups:
                reader.add(RULES_FILE, f"{name}.groups.{group}", None, f"names unknown group {group!r}",
                           hint=f"groups are the files in {GROUPS_DIR}/ ({known})")
    for key, value in (("reviewers", [organisation.reviewers]), ("may_downgrade", organisation.may_downgrade)):
        for group in value:
            if group not in groups:
                reader.add(ORGANISATION_FILE, key, group, f"names unknown group {group!r}",
                           hint=f"groups are the files in {GROUPS_DIR}/ ({known})")
    for name, group in groups.items():
        for inner in group.include:
            if inner not in groups:
                reader.add(f"{GROUPS_DIR}/{name}.toml", "include", inner, f"names unknown group {inner!r}",
                           hint=f"groups are ({known})")
    for name in groups:
        cycle = _find_cycle(name, groups, ())
        if cycle:
            reader.add(f"{GROUPS_DIR}/{name}.toml", "include", " -> ".join(cycle),
                       "groups include each other in a cycle")
            break


def _find_cycle(name: str, groups: Mapping[str, Group], trail: tuple[str, ...]) -> tuple[str, ...]:
    if name in trail:
        return (*trail, name)
    group = groups.get(name)
    if group is None:
        return ()
    for inner in group.include:
        found = _find_cycle(inner, groups, (*trail, name))
        if found:
            return found
    return ()
