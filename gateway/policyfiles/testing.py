"""What-if decisions and the admin-written cases of ``policies/tests/*.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.core.decision import Decision, RecipientDecision, ThreadContext, decide
from gateway.core.message import MessageFacts, TextPart, read_message
from gateway.core.model import Location, Stamp, Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import AddressRefused, Recipient, parse_recipient
from gateway.core.stamps import StampReading, read_stamps
from gateway.policyfiles.problems import problem, validation_problems

TESTS_DIR = "tests"
NO_STAMP = frozenset({"none", "unstamped"})
WHAT_IF_THREAD = "what-if-thread"


class ScenarioError(ValueError):
    """A what-if that cannot be decided: a bad address or a stamp the policy does not know."""


@dataclass(frozen=True)
class Scenario:
    """A message to decide without SMTP: a stamp (name or line) or whole message bytes."""

    sender: str
    recipients: tuple[str, ...]
    stamp: str | None = None
    message: bytes | None = None
    thread_stamp: str | None = None
    participants: tuple[str, ...] = ()


def decide_scenario(policy: Policy, scenario: Scenario) -> Decision:
    """The decision the gateway would make; ``ScenarioError`` says what is wrong with it."""
    separator = policy.organisation.plus_separator
    sender = _address(scenario.sender, "from", separator)
    recipients = [_address(a, "to", separator) for a in scenario.recipients]
    if not recipients:
        raise ScenarioError("give at least one recipient")
    if scenario.message is not None:
        reading = read_stamps(read_message(scenario.message), policy.vocabulary)
    else:
        reading = stamp_reading(policy, scenario.stamp or "none")
    thread = None
    if scenario.thread_stamp is not None or scenario.participants:
        stamp = parse_stamp_name(policy, scenario.thread_stamp or "none")
        participants = frozenset(_address(a, "participant", separator).key
                                 for a in scenario.participants)
        thread = ThreadContext(WHAT_IF_THREAD, stamp, participants or None)
    return decide(policy, reading, sender.key, recipients, thread)


def _address(address: str, role: str, separator: str) -> Recipient:
    try:
        return parse_recipient(address.strip(), separator)
    except AddressRefused as exc:
        reply = exc.reply.split(" ", 2)[-1]  # drop the SMTP codes: an admin reads this
        if reply.startswith("<"):
            reply = reply.split(">: ", 1)[-1]
        raise ScenarioError(f"{role} {address!r}: {reply}") from None


def stamp_reading(policy: Policy, text: str) -> StampReading:
    """A reading of a stamp given as a name (``internal``, ``none``) or as staff write it
    (``Needs adjustment in 2 ways: blur face, change name``), as if on the body's first line.
    """
    if text.strip().lower() in NO_STAMP:
        return StampReading((), (), ())
    facts = MessageFacts(top_texts=(TextPart(Location.BODY, text),))
    reading = read_stamps(facts, policy.vocabulary)
    if reading.stamp is None:
        raise ScenarioError(_not_a_stamp(text))
    return reading


def parse_stamp_name(policy: Policy, text: str) -> Stamp | None:
    """A stamp given by name or phrase; ``None`` for ``none``/``unstamped``."""
    if text.strip().lower() in NO_STAMP:
        return None
    stamp = policy.vocabulary.read_value(text)
    if stamp is None:
        raise ScenarioError(_not_a_stamp(text))
    return stamp


def _not_a_stamp(text: str) -> str:
    names = ", ".join(s.value for s in Stamp)
    return (f"{text!r} is not a stamp of this policy; give one of {names} or none, "
            "or a stamp line as staff write it (a phrase from stamps.toml)")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ThreadSpec(_Strict):
    """The thread a case's message replies to, as the gateway would remember it."""

    stamp: str = "none"
    participants: tuple[str, ...] = ()


class Case(_Strict):
    """One admin-written case: a message, and what the policy must do with it."""

    name: str = Field(min_length=1)
    sender: str = Field(alias="from")
    to: tuple[str, ...] = Field(min_length=1)
    stamp: str | None = None
    message: str | None = None
    message_file: str | None = None
    thread: ThreadSpec | None = None
    expect: dict[str, Verdict] = Field(default_factory=dict)
    expect_verdict: Verdict | None = None
    expect_stamp: str | None = None
    expect_rules: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _complete(self) -> Case:
        given = [k for k in ("stamp", "message", "message_file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of stamp, message, message_file")
        if not (self.expect or self.expect_verdict or self.expect_stamp or self.expect_rules):
            raise ValueError("expects nothing: add expect, expect_verdict, expect_stamp "
                             "or expect_rules")
        recipients = {a.lower() for a in self.to}
        for address in self.expect:
            if address.lower() not in recipients:
                raise ValueError(f"expect names {address!r}, which is not in to")
        return self


@dataclass(frozen=True)
class CaseResult:
    """The result of one case; a case that could not be run fails with its problems."""

    file: str
    name: str
    failures: tuple[str, ...]
    line: int | None = None
    decision: Decision | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def case_files(directory: str | Path) -> list[Path]:
    """The case files of a policy directory, in name order."""
    folder = Path(directory) / TESTS_DIR
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


def run_cases(policy: Policy, directory: str | Path) -> list[CaseResult]:
    """Run every case in ``directory/tests/*.toml`` against ``policy``."""
    root = Path(directory)
    results: list[CaseResult] = []
    for path in case_files(root):
        results.extend(run_file(policy, path, path.relative_to(root).as_posix()))
    return results


def run_file(policy: Policy, path: Path, shown: str) -> list[CaseResult]:
    """Every case of one file; a file that cannot be read is one failed result."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return [CaseResult(shown, "(file)", (f"cannot read the cases: {exc}",))]
    unknown = [k for k in data if k != "case"]
    cases = data.get("case")
    if unknown or not isinstance(cases, list) or not cases:
        message = ("unknown top-level keys " + ", ".join(unknown) if unknown
                   else "no [[case]] tables")
        return [CaseResult(shown, "(file)", (f"{message}; write each case as [[case]]",))]
    return [_run_one(policy, path, shown, text, index, raw)
            for index, raw in enumerate(cases)]


def _run_one(policy: Policy, path: Path, shown: str, text: str, index: int,
             raw: dict[str, Any]) -> CaseResult:
    name = str(raw.get("name") or f"case {index + 1}")
    line = problem(shown, text, ("case", str(index)), None, "").line
    try:
        case = Case.model_validate(raw)
    except ValidationError as exc:
        found = validation_problems(shown, text, ("case", str(index)), exc, Case)
        return CaseResult(shown, name, tuple(f"invalid case: {p}" for p in found), line)
    try:
        decision = decide_scenario(policy, _scenario(case, path.parent))
        expected_stamp = (parse_stamp_name(policy, case.expect_stamp)
                          if case.expect_stamp is not None else None)
    except (ScenarioError, OSError) as exc:
        return CaseResult(shown, name, (f"invalid case: {exc}",), line)
    failures = compare(case, decision, expected_stamp)
    return CaseResult(shown, name, tuple(failures), line, decision)


def _scenario(case: Case, folder: Path) -> Scenario:
    message: bytes | None = None
    if case.message is not None:
        message = case.message.encode("utf-8")
    elif case.message_file is not None:
        message = (folder / case.message_file).read_bytes()
    thread = case.thread
    return Scenario(
        sender=case.sender, recipients=case.to, stamp=case.stamp, message=message,
        thread_stamp=thread.stamp if thread else None,
        participants=thread.participants if thread else (),
    )


def compare(case: Case, decision: Decision, expected_stamp: Stamp | None) -> list[str]:
    """Each way ``decision`` differs from what ``case`` expects."""
    failures: list[str] = []
    if case.expect_stamp is not None and decision.stamp is not expected_stamp:
        failures.append(f"stamp: expected {_stamp_name(expected_stamp)}, "
                        f"got {_stamp_name(decision.stamp)}")
    if case.expect_verdict is not None and decision.verdict is not case.expect_verdict:
        failures.append(f"message: expected {case.expect_verdict.value}, "
                        f"got {decision.verdict.value}")
    for address, verdict in case.expect.items():
        got = _decided(decision, address)
        if got is None:
            failures.append(f"{address}: not among the decided recipients")
        elif got.verdict is not verdict:
            failures.append(f"{address}: expected {verdict.value}, got {got.verdict.value} "
                            f"(rule {got.rule}; {got.reason.removeprefix(got.address + ': ')})")
    missing = [rule for rule in case.expect_rules if rule not in decision.rules]
    if missing:
        failures.append(f"rules: expected {', '.join(missing)} to fire; "
                        f"fired: {', '.join(decision.rules) or 'none'}")
    return failures


def _decided(decision: Decision, address: str) -> RecipientDecision | None:
    """The recipient's decision that ``address`` (as written in the case's ``to``) names."""
    try:
        wanted = parse_recipient(address.strip()).address.lower()
    except AddressRefused:
        return None
    return next((r for r in decision.recipients if r.address.lower() == wanted), None)


def _stamp_name(stamp: Stamp | None) -> str:
    return stamp.value if stamp else "none"
