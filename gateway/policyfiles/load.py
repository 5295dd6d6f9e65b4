"""Reading the policy files in ``policies/`` into a validated, frozen ``Policy``."""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.core.label_policy import LabelPolicy
from gateway.core.labels import LABELS_FILE
from gateway.core.model import Stamp
from gateway.core.photos import PHOTOS_FILE
from gateway.core.policy import (
    GROUPS_DIR,
    ORGANISATION_FILE,
    RULES_FILE,
    STAMPS_FILE,
    Group,
    Organisation,
    Policy,
    Rules,
    StampVocabulary,
    is_group_name,
)
from gateway.policyfiles.locate import locate as locate
from gateway.policyfiles.locate import syntax_error_line
from gateway.policyfiles.partners import PARTNERS_FILE, read_partners
from gateway.policyfiles.photos import read_photos
from gateway.policyfiles.problems import PolicyError as PolicyError
from gateway.policyfiles.problems import PolicyProblem as PolicyProblem
from gateway.policyfiles.problems import problem as problem
from gateway.policyfiles.problems import validation_problems as validation_problems
from gateway.policyfiles.stamps import check_vocabulary

M = TypeVar("M", bound=BaseModel)


class _Reader:
    """Collects the files' text and the problems found while reading them."""

    def __init__(self, directory: Path, overrides: Mapping[str, str]) -> None:
        self.directory = directory
        self.overrides = overrides
        self.texts: dict[str, str] = {}
        self.data: dict[str, dict[str, Any]] = {}
        self.problems: list[PolicyProblem] = []

    def load(self, relative: str, required: bool = True) -> dict[str, Any] | None:
        text = self.overrides.get(relative)
        if text is None:
            text = self._read(relative, required)
        if text is None:
            return None
        self.texts[relative] = text
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            self.problems.append(
                PolicyProblem(relative, "(syntax)", "", f"not valid TOML: {exc}",
                              line=syntax_error_line(str(exc), text),
                              hint="check quotes, brackets, commas and '=' on that line; "
                                   "a key may appear only once per table")
            )
            return None
        self.data[relative] = data
        return data

    def _read(self, relative: str, required: bool) -> str | None:
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
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.problems.append(
                PolicyProblem(relative, "(file)", "",
                              f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                              hint="save the file as UTF-8")
            )
            return None

    def add(self, relative: str, key: Sequence[str | int], value: object, message: str,
            hint: str = "", later: bool = False) -> None:
        self.problems.append(problem(relative, self.texts.get(relative, ""), key, value,
                                     message, hint, later))

    def validation(self, relative: str, prefix: tuple[str, ...], error: ValidationError,
                   model: type[BaseModel]) -> None:
        self.problems.extend(validation_problems(relative, self.texts.get(relative, ""),
                                                 prefix, error, model))


def policy_version(texts: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(texts):
        digest.update(name.encode() + b"\0" + texts[name].encode() + b"\0")
    return digest.hexdigest()[:12]


def load_policy(directory: str | Path, overrides: Mapping[str, str] | None = None) -> Policy:
    """Read and check every policy file; raise ``PolicyError`` naming every problem found.

    ``overrides`` maps a file's path relative to ``directory`` (``groups/press.toml``) to
    text used instead of the file on disk, so that a change can be checked before it is
    written.
    """
    root = Path(directory)
    if not root.is_dir():
        raise PolicyError([PolicyProblem(str(root), "(directory)", "", "policy directory not found",
                                         hint="pass the policy directory, e.g. --policies DIR")])
    reader = _Reader(root, overrides or {})
    organisation = _model(reader, ORGANISATION_FILE, Organisation)
    stamps = _stamps(reader)
    rules = _model(reader, RULES_FILE, Rules)
    groups, group_files = _groups(reader)
    labels = _labels(reader)
    _cross_check(reader, organisation, groups, group_files)
    photos = read_photos(reader.load, reader.validation, reader.add, set(groups) | group_files)
    partners = read_partners(reader.load, reader.validation, reader.add, organisation)
    if reader.problems:
        raise PolicyError(reader.problems)
    assert organisation is not None and stamps is not None and rules is not None
    return Policy(organisation=organisation, stamps=stamps, rules=rules, groups=groups,
                  version=policy_version(reader.texts), source=str(root),
                  labels=labels or LabelPolicy(), photos=photos, partners=partners)


def reload_policy(directory: str | Path, current: Policy) -> tuple[Policy, PolicyError | None]:
    """The policy to use after the files changed: the new one if valid, else ``current``.

    For a running gateway (on SIGHUP, or when ``policy_fingerprint`` changes). Never raises
    for bad files: an invalid policy gives ``(current, error)``, and the caller logs
    ``error.problems`` and shows the refusal in its health output, while ``current`` (the
    last good policy) stays in force. A valid policy gives ``(new, None)``; compare
    ``new.version`` with ``current.version`` to see whether anything changed.
    """
    try:
        return load_policy(directory), None
    except PolicyError as error:
        return current, error


def policy_fingerprint(directory: str | Path) -> tuple[tuple[str, int, int], ...]:
    """(file, modification time, size) of every policy file: cheap to poll for changes."""
    root = Path(directory)
    paths = [root / ORGANISATION_FILE, root / STAMPS_FILE, root / RULES_FILE, root / LABELS_FILE,
             root / PHOTOS_FILE, root / PARTNERS_FILE, *sorted((root / GROUPS_DIR).glob("*.toml"))]
    found: list[tuple[str, int, int]] = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((str(path.relative_to(root)), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def _model(reader: _Reader, relative: str, cls: type[M]) -> M | None:
    data = reader.load(relative)
    if data is None:
        return None
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        reader.validation(relative, (), exc, cls)
        return None


def _labels(reader: _Reader) -> LabelPolicy | None:
    """labels.toml is optional: without it no label maps to a stamp."""
    data = reader.load(LABELS_FILE, required=False)
    if data is None:
        return None
    for key in data:
        if key != "labels":
            reader.add(LABELS_FILE, (key,), None, "does not belong in labels.toml",
                       hint="put the label tables under [labels], e.g. [labels.msip]")
    section = data.get("labels", {})
    if not isinstance(section, dict):
        reader.add(LABELS_FILE, ("labels",), section, "must be a table",
                   hint='write [labels] and below it [labels.msip] "Label name" = "internal"')
        return None
    try:
        return LabelPolicy.model_validate(section)
    except ValidationError as exc:
        reader.validation(LABELS_FILE, ("labels",), exc, LabelPolicy)
        return None


def _stamps(reader: _Reader) -> dict[Stamp, StampVocabulary] | None:
    data = reader.load(STAMPS_FILE)
    if data is None:
        return None
    result: dict[Stamp, StampVocabulary] = {}
    known = [s.value for s in Stamp]
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            reader.add(STAMPS_FILE, (key,), None, "is not a stamp",
                       hint=(f"did you mean {close[0]!r}? " if close else "")
                       + "the stamps are " + ", ".join(known))
            continue
        if not isinstance(value, dict):
            reader.add(STAMPS_FILE, (key,), value, "must be a table",
                       hint=f'write [{key}] and below it phrases = ["..."]')
            continue
        try:
            result[Stamp(key)] = StampVocabulary.model_validate(value)
        except ValidationError as exc:
            reader.validation(STAMPS_FILE, (key,), exc, StampVocabulary)
    for stamp in Stamp:
        if stamp.value not in data:
            reader.add(STAMPS_FILE, (stamp.value,), None, "is missing",
                       hint=f'add [{stamp.value}] with phrases = ["..."]')
    check_vocabulary(result, reader.add)
    return result if len(result) == len(Stamp) else None


def _groups(reader: _Reader) -> tuple[dict[str, Group], set[str]]:
    """The valid groups, and the names of every group file (valid or not)."""
    groups: dict[str, Group] = {}
    folder = reader.directory / GROUPS_DIR
    names = {p.name for p in folder.glob("*.toml")} if folder.is_dir() else set()
    names |= {Path(k).name for k in reader.overrides if k.startswith(f"{GROUPS_DIR}/")}
    files: set[str] = set()
    for filename in sorted(names):
        relative = f"{GROUPS_DIR}/{filename}"
        name = filename.removesuffix(".toml")
        if not is_group_name(name):
            reader.add(relative, ("(file name)",), name,
                       "a group file name must be lower-case letters, digits, - or _",
                       hint="rename the file, e.g. groups/communications.toml")
            continue
        files.add(name)
        group = _model(reader, relative, Group)
        if group is not None:
            if not group.members and not group.include:
                reader.add(relative, ("members",), None, "the group is empty",
                           hint="list members = [...] or include = [...], or delete the file")
            groups[name] = group
    return groups, files


def _unknown_group_hint(name: str, known: set[str]) -> str:
    close = (difflib.get_close_matches(name, sorted(known), n=1)
             or sorted(k for k in known if k.startswith(name)))
    listing = ", ".join(sorted(known)) or "none defined"
    return ((f"did you mean {close[0]!r}? " if close else "")
            + f"groups are the files in {GROUPS_DIR}/ ({listing})")


def _cross_check(reader: _Reader, organisation: Organisation | None,
                 groups: Mapping[str, Group], group_files: set[str]) -> None:
    """References between files, read from the raw tables so that they are reported even
    when the file has other problems; a group whose own file is broken is not reported again.
    """
    for name, table in _tables(reader.data.get(RULES_FILE)):
        for named in _tables(table.get("groups")):
            if named[0] not in group_files:
                reader.add(RULES_FILE, (name, "groups", named[0]), None,
                           f"names unknown group {named[0]!r}",
                           hint=_unknown_group_hint(named[0], group_files))
    raw = reader.data.get(ORGANISATION_FILE) or {}
    reviewers, downgraders = raw.get("reviewers"), raw.get("may_downgrade")
    references = [("reviewers", reviewers)] if isinstance(reviewers, str) else []
    if isinstance(downgraders, list):
        references += [("may_downgrade", g) for g in downgraders if isinstance(g, str)]
    guards = raw.get("register_guards")  # the default names a group only if it exists
    if isinstance(guards, list):
        references += [("register_guards", g) for g in guards if isinstance(g, str)]
    for key, named_group in references:
        if named_group not in group_files:
            reader.add(ORGANISATION_FILE, (key,), named_group,
                       f"names unknown group {named_group!r}",
                       hint=_unknown_group_hint(named_group, group_files))
    separator = organisation.plus_separator if organisation is not None else ""
    for name, group in groups.items():
        for member in group.members:
            local, _, domain = member.partition("@")
            if separator and separator in local:
                reader.add(f"{GROUPS_DIR}/{name}.toml", ("members",), member,
                           "can never match: recipients are compared without "
                           f"their {separator!r} suffix",
                           hint=f"list {local.split(separator, 1)[0]}@{domain} instead")
    for name, group in groups.items():
        for inner in group.include:
            if inner not in group_files:
                reader.add(f"{GROUPS_DIR}/{name}.toml", ("include",), inner,
                           f"names unknown group {inner!r}",
                           hint=_unknown_group_hint(inner, group_files))
    for name in groups:
        cycle = _find_cycle(name, groups, ())
        if cycle:
            reader.add(f"{GROUPS_DIR}/{name}.toml", ("include",), " -> ".join(cycle),
                       "groups include each other in a cycle",
                       hint="a group may not include itself, directly or through others")
            break


def _tables(value: object) -> list[tuple[str, Any]]:
    """The (key, value) pairs of a raw TOML table; nothing if it is not a table."""
    return list(value.items()) if isinstance(value, dict) else []


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
