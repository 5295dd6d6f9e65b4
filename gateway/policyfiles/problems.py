"""What is wrong in the policy files, worded so that an admin can fix it."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from gateway.core.model import Stamp
from gateway.core.policy import ItemFlaws
from gateway.policyfiles.locate import locate


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
            found.extend(problem(file, text, (*loc, *flaw.path), flaw.value, flaw.message,
                                 flaw.hint, flaw.later)
                         for flaw in cause.flaws)
            continue
        value = item.get("input")
        message, hint = _explain_error(item["type"], item["msg"], loc[len(prefix):], model)
        expected = str(item.get("ctx", {}).get("expected", ""))
        if (item["type"] == "enum" and expected and "bounce" not in expected
                and "'cleared'" not in expected):  # verdicts and stamps have their own words
            # Another closed set than the verdicts (photos.toml's strip or hold, say).
            message, hint = "is not one of the choices", f"write {expected}"
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
    if kind == "enum" and "'cleared'" in pydantic_message:  # a Stamp (labels.toml), not a Verdict
        message, hint = "is not a stamp", "the stamps are " + ", ".join(s.value for s in Stamp)
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + (
            "known keys here: " + ", ".join(known) if known else "")
    return message, hint


def _known_keys(model: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    current: type[BaseModel] | None = model
    parts = iter(loc)
    for part in parts:
        if current is None or part not in current.model_fields:
            return []
        annotation = current.model_fields[part].annotation
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is dict and len(args) == 2:  # a table of tables
            annotation = args[1]
            if next(parts, None) is None:
                return []
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
        else:
            current = None
    return list(current.model_fields) if current is not None else []


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)
