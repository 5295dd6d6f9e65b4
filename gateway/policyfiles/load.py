"""Reading the policy files in ``policies/`` into a validated, frozen ``Policy``."""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.core.model import Stamp
from gateway.core.policy import (
    GROUPS_DIR,
    ORGANISATION_FILE,
    RULES_FILE,
    STAMPS_FILE,
    Group,
    ItemFlaws,
    Organisation,
    Policy,
    Rules,
    StampVocabulary,
    is_group_name,
)
from gateway.core.text import normalise_phrase

M = TypeVar("M", bound=BaseModel)

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
                              line=_line_from_message(str(exc), text),
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


def problem(file: str, text: str, key: Sequence[str | int], value: object, message: str,
            hint: str = "", later: bool = False) -> PolicyProblem:
    """A problem with ``key`` in ``file``, its line found in the file's ``text``."""
    path = tuple(str(k) for k in key)
    line = locate(text, path, value if isinstance(value, str) else None, later)
    shown = "" if value is None else _show(value)
    return PolicyProblem(file, ".".join(path), shown, message, line, hint)


def validation_problems(file: str, text: str, prefix: tuple[str, ...], error: ValidationError,
                        model: type[BaseModel]) -> list[PolicyProblem]:
    """A pydantic error on the table at ``prefix`` of ``file``, in an admin's words."""
    found: list[PolicyProblem] = []
    for item in error.errors():
        loc = (*prefix, *(str(p) for p in item["loc"]))
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, ItemFlaws):
            found.extend(problem(file, text, loc, flaw.value, flaw.message, flaw.hint, flaw.later)
                         for flaw in cause.flaws)
            continue
        value = item.get("input")
        message, hint = _explain_error(item["type"], item["msg"], loc[len(prefix):], model)
        if item["type"] == "missing" or (
                isinstance(value, dict | list) and item["type"] != "extra_forbidden"):
            value = None
        found.append(problem(file, text, loc, value, message, hint))
    return found


_ERROR_WORDS = {
    "missing": ("is required", "add it; see policies/README.md"),
    "extra_forbidden": ("is not a known key", ""),
    "enum": ("is not a verdict", "the verdicts are allow, hold, bounce"),
    "tuple_type": ("must be a list", 'write it like ["a", "b"]'),
    "list_type": ("must be a list", 'write it like ["a", "b"]'),
    "string_type": ("must be text", 'put it in double quotes: "..."'),
    "dict_type": ("must be a table", "write it as [name] with keys below, or { key = value }"),
    "model_type": ("must be a table", "write it as [name] with keys below, or { key = value }"),
    "too_short": ("must not be empty", "list at least one entry"),
    "too_long": ("is too long", ""),
}


def _explain_error(kind: str, pydantic_message: str, loc: tuple[str, ...],
                   model: type[BaseModel]) -> tuple[str, str]:
    """An admin's wording (message, hint) for one pydantic error."""
    message, hint = _ERROR_WORDS.get(kind, (pydantic_message.removeprefix("Value error, "), ""))
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + (
            "known keys here: " + ", ".join(known) if known else "")
    return message, hint


def _known_keys(model: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or part not in current.model_fields:
            return []
        annotation = current.model_fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
        else:
            current = None
    return list(current.model_fields) if current is not None else []


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _line_from_message(message: str, text: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    if match:
        return int(match.group(1))
    return len(text.splitlines()) or None if "end of document" in message else None


_TABLE_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*$")
_BARE_OR_QUOTED = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY_LINE = re.compile(rf"^\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=")
_INLINE_KEY = re.compile(rf"[{{,]\s*({_BARE_OR_QUOTED})\s*=")


def _key_parts(text: str) -> tuple[str, ...]:
    parts = re.findall(_BARE_OR_QUOTED, text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _without_comment(line: str) -> str:
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index]
    return line


def locate(text: str, key: Sequence[str], value: str | None = None,
           later: bool = False) -> int | None:
    """Best-effort line of a key path (or of a bad string value under it) in a TOML text.

    ``key`` is a path such as ``("internal", "groups", "comms")`` or ``("case", "2", "to")``
    (arrays of tables are numbered from 0). With ``later`` the last matching value is
    returned: the second of two duplicates.
    """
    if not text:
        return None
    path = tuple(key)
    best: tuple[int, int] | None = None  # (depth of the matched prefix, line)
    hits: list[int] = []
    table: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    counts: dict[tuple[str, ...], int] = {}

    def consider(found: tuple[str, ...], number: int) -> None:
        nonlocal best
        if found and path[:len(found)] == found and (best is None or len(found) > best[0]):
            best = (len(found), number)

    for number, raw in enumerate(text.splitlines(), start=1):
        line = _without_comment(raw)
        header = _TABLE_HEADER.match(line)
        if header:
            name = _key_parts(header.group(2))
            if header.group(1) == "[[":
                index = counts.get(name, 0)
                counts[name] = index + 1
                name = (*name, str(index))
            table = context = name
            consider(table, number)
            continue
        assignment = _KEY_LINE.match(line)
        if assignment:
            context = (*table, *_key_parts(assignment.group(1)))
            consider(context, number)
            for inner in _INLINE_KEY.finditer(line, assignment.end()):
                consider((*context, *_key_parts(inner.group(1))), number)
        if value and path[:len(context)] == context and (
                f'"{value}"' in line or f"'{value}'" in line):
            hits.append(number)
    if hits:
        return hits[-1] if later else hits[0]
    return best[1] if best else None


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
    _cross_check(reader, organisation, groups, group_files)
    if reader.problems:
        raise PolicyError(reader.problems)
    assert organisation is not None and stamps is not None and rules is not None
    return Policy(organisation=organisation, stamps=stamps, rules=rules, groups=groups,
                  version=policy_version(reader.texts), source=str(root))


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
    paths = [root / ORGANISATION_FILE, root / STAMPS_FILE, root / RULES_FILE,
             *sorted((root / GROUPS_DIR).glob("*.toml"))]
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
    _collisions(reader, result)
    return result if len(result) == len(Stamp) else None


def _collisions(reader: _Reader, stamps: Mapping[Stamp, StampVocabulary]) -> None:
    """A phrase may name one stamp only; each stamp's own name is reserved for it."""
    owner: dict[str, tuple[Stamp, str]] = {}
    for stamp in Stamp:
        for name in (stamp.value, stamp.value.replace("_", " "), stamp.value.replace("_", "-")):
            owner[name] = (stamp, f"the name of the stamp {stamp.value}")
    for stamp, vocabulary in stamps.items():
        for phrase in vocabulary.phrases:
            norm = normalise_phrase(phrase)
            other = owner.get(norm)
            if other is not None and other[0] is not stamp:
                reader.add(STAMPS_FILE, (stamp.value, "phrases"), phrase,
                           f"collides with {other[1]}",
                           hint="a phrase may name only one stamp (matching ignores case, "
                                "accents-as-look-alikes and Arabic marks); remove it from one",
                           later=True)
            else:
                owner.setdefault(norm, (stamp, f"the phrase {phrase!r} of {stamp.value}"))


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
