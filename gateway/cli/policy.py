"""``stampgate policy ...``: check, explain, test and import-group, for policy admins."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from gateway.core.explain import explain
from gateway.core.policy import GROUPS_DIR, Policy, is_group_name
from gateway.policyfiles.group_import import GroupImportError, group_toml, read_directory_csv
from gateway.policyfiles.load import PolicyError, PolicyProblem, load_policy
from gateway.policyfiles.testing import (
    CaseResult,
    Scenario,
    ScenarioError,
    case_files,
    decide_scenario,
    run_cases,
)

DEFAULT_DIR = "policies"
OK, FAILED, USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    """Add ``policy`` and its sub-commands to the ``stampgate`` parser."""
    policy = subparsers.add_parser(
        "policy", help="check, explain and test the policy files",
        description="Tools for policy admins: validate, explain and test a policy change "
                    "before it goes live. See policies/README.md.")
    sub = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND")
    sub.required = True

    check = sub.add_parser("check", help="validate every policy file",
                           description="Validate every policy file; exit 0 only when clean.")
    check.add_argument("directory", nargs="?", default=DEFAULT_DIR, metavar="DIR",
                       help=f"the policy directory (default: ./{DEFAULT_DIR})")
    check.set_defaults(handler=run_check)

    what_if = sub.add_parser(
        "explain", help="show what the policy does with one message",
        description="Decide one message as the gateway would, and say why, in words or JSON.")
    what_if.add_argument("--from", dest="sender", required=True, metavar="ADDR",
                         help="the envelope sender (MAIL FROM)")
    what_if.add_argument("--to", dest="recipients", action="append", required=True,
                         metavar="ADDR", help="an envelope recipient (RCPT TO); repeat for more")
    given = what_if.add_mutually_exclusive_group(required=True)
    given.add_argument("--stamp", metavar="STAMP",
                       help="a stamp name (cleared, needs_adjustment, internal, confidential, "
                            "none) or a stamp line as staff write it")
    given.add_argument("--message", metavar="FILE.eml", help="a whole message; - for stdin")
    what_if.add_argument("--thread", dest="thread_stamp", metavar="STAMP",
                         help="the message replies to a known thread with this stamp")
    what_if.add_argument("--participant", dest="participants", action="append", default=[],
                         metavar="ADDR", help="a participant of that thread's confidential "
                                              "chain; repeat for more")
    what_if.add_argument("--policies", default=DEFAULT_DIR, metavar="DIR",
                         help=f"the policy directory (default: ./{DEFAULT_DIR})")
    what_if.add_argument("--json", action="store_true", help="print the decision as JSON")
    what_if.set_defaults(handler=run_explain)

    test = sub.add_parser("test", help="run the admin-written cases in DIR/tests/*.toml",
                          description="Run the cases kept beside the policy; exit 1 on any "
                                      "failure.")
    test.add_argument("directory", nargs="?", default=DEFAULT_DIR, metavar="DIR",
                      help=f"the policy directory (default: ./{DEFAULT_DIR})")
    test.add_argument("-k", dest="keyword", metavar="TEXT",
                      help="run only the cases whose name contains TEXT")
    test.add_argument("-v", "--verbose", action="store_true",
                      help="explain the decision of each failed case")
    test.set_defaults(handler=run_test)

    group = sub.add_parser(
        "import-group", help="write groups/NAME.toml from a staff-directory CSV export",
        description="Generate a group file from a CSV export, check the whole policy with "
                    "it, then write it atomically. Nothing is written if anything is wrong.")
    group.add_argument("name", metavar="NAME", help="the group name (the file groups/NAME.toml)")
    group.add_argument("csv_file", metavar="FILE.csv", help="the CSV export, header row first")
    group.add_argument("--policies", default=DEFAULT_DIR, metavar="DIR",
                       help=f"the policy directory (default: ./{DEFAULT_DIR})")
    group.add_argument("--column", metavar="HEADER",
                       help="the email column's header (default: detected, e.g. Email)")
    group.add_argument("--description", help="the group's description (default: kept from "
                                             "the existing file)")
    group.add_argument("--skip-invalid", action="store_true",
                       help="leave invalid rows out instead of refusing to write")
    group.add_argument("--dry-run", action="store_true",
                       help="check and print the file, but do not write it")
    group.set_defaults(handler=run_import_group)


def _print_problems(problems: list[PolicyProblem], directory: str, out: TextIO) -> None:
    for problem in problems:
        if problem.key != "(directory)":
            problem = replace(problem, file=os.path.join(directory, problem.file))
        print(problem, file=out)


def _load(directory: str, command: str) -> Policy | None:
    try:
        return load_policy(directory)
    except PolicyError as error:
        _print_problems(error.problems, directory, sys.stderr)
        print(f"stampgate policy {command}: the policy in {directory} is invalid "
              f"(run: stampgate policy check {directory})", file=sys.stderr)
        return None


def run_check(args: argparse.Namespace) -> int:
    directory: str = args.directory
    try:
        policy = load_policy(directory)
    except PolicyError as error:
        _print_problems(error.problems, directory, sys.stdout)
        count = len(error.problems)
        print(f"{count} problem{'s' if count != 1 else ''}: the policy was not loaded "
              "(a running gateway keeps its last good policy)")
        return FAILED
    print(f"policy OK (version {policy.version}): {directory}")
    print(summary(policy, directory))
    return OK


def summary(policy: Policy, directory: str) -> str:
    """A few lines saying what a valid policy contains."""
    organisation = policy.organisation
    stamps = ", ".join(f"{s.value} {len(v.phrases)} phrases" for s, v in policy.stamps.items())
    groups = ", ".join(f"{name} {len(policy.members_of(name))} members"
                       for name in sorted(policy.groups)) or "none"
    cases = len(case_files(directory))
    return "\n".join([
        f"  organisation: {organisation.name}; domains {', '.join(organisation.domains)}",
        f"  stamps: {stamps}",
        f"  groups: {groups}",
        f"  reviewers: {organisation.reviewers}; may downgrade: "
        f"{', '.join(organisation.may_downgrade) or 'nobody'}",
        f"  case files: {cases} in {os.path.join(directory, 'tests')} "
        f"(run: stampgate policy test {directory})",
    ])


def run_explain(args: argparse.Namespace) -> int:
    message: bytes | None = None
    if args.message is not None:
        try:
            message = (sys.stdin.buffer.read() if args.message == "-"
                       else Path(args.message).read_bytes())
        except OSError as exc:
            return _usage("explain", f"--message {args.message}: {exc.strerror or exc}")
    policy = _load(args.policies, "explain")
    if policy is None:
        return FAILED
    scenario = Scenario(sender=args.sender, recipients=tuple(args.recipients),
                        stamp=args.stamp, message=message, thread_stamp=args.thread_stamp,
                        participants=tuple(args.participants))
    try:
        decision = decide_scenario(policy, scenario)
    except ScenarioError as exc:
        return _usage("explain", str(exc))
    if args.json:
        print(json.dumps(decision.to_dict(), indent=2, ensure_ascii=False))
    else:
        if args.stamp is not None:
            print(f"what if: a message whose first line is {args.stamp!r}")
        print(explain(decision, args.policies))
    return OK


def _usage(command: str, message: str) -> int:
    print(f"stampgate policy {command}: error: {message}", file=sys.stderr)
    return USAGE


def run_test(args: argparse.Namespace) -> int:
    directory: str = args.directory
    policy = _load(directory, "test")
    if policy is None:
        return FAILED
    results = run_cases(policy, directory)
    if args.keyword:
        results = [r for r in results if args.keyword.lower() in r.name.lower()]
    if not results:
        print(f"no cases found in {os.path.join(directory, 'tests')}/*.toml "
              "(see policies/README.md, section Test cases)")
        return FAILED
    current = ""
    for result in results:
        if result.file != current:
            current = result.file
            print(os.path.join(directory, current))
        _print_result(result, directory, args.verbose)
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed (policy version {policy.version})")
    return FAILED if failed else OK


def _print_result(result: CaseResult, directory: str, verbose: bool) -> None:
    if result.passed:
        print(f"  PASS  {result.name}")
        return
    where = os.path.join(directory, result.file) + (f":{result.line}" if result.line else "")
    print(f"  FAIL  {result.name} ({where})")
    for failure in result.failures:
        print(f"        - {failure}")
    if verbose and result.decision is not None:
        for line in explain(result.decision).splitlines():
            print(f"        | {line}")


def run_import_group(args: argparse.Namespace) -> int:
    name: str = args.name
    directory = Path(args.policies)
    if not is_group_name(name):
        return _usage("import-group", f"{name!r} is not a group name (lower-case letters, "
                                      "digits, - and _)")
    if not directory.is_dir():
        return _usage("import-group", f"policy directory {directory} not found")
    try:
        text = _decode_csv(Path(args.csv_file).read_bytes())
        imported = read_directory_csv(text, args.column)
    except OSError as exc:
        return _usage("import-group", f"{args.csv_file}: {exc.strerror or exc}")
    except GroupImportError as exc:
        print(f"stampgate policy import-group: {args.csv_file}: {exc}", file=sys.stderr)
        return FAILED
    for row in imported.duplicates:
        print(f"{args.csv_file}: {row}")
    for row in imported.invalid:
        print(f"{args.csv_file}: {row}", file=sys.stderr)
    if imported.invalid and not args.skip_invalid:
        print(f"nothing written: {len(imported.invalid)} invalid rows in {args.csv_file}; "
              "correct them, or pass --skip-invalid to leave them out", file=sys.stderr)
        return FAILED
    if not imported.members:
        print(f"nothing written: no addresses in column {imported.column!r} of "
              f"{args.csv_file}", file=sys.stderr)
        return FAILED
    relative = f"{GROUPS_DIR}/{name}.toml"
    target = directory / relative
    old = _existing_group(target)
    kept = old.get("description")
    description: str = (args.description if args.description is not None
                        else kept if isinstance(kept, str)
                        else f"Imported from {Path(args.csv_file).name}")
    include = _strings(old.get("include"))
    content = group_toml(imported.members, description, include, Path(args.csv_file).name,
                         imported.column)
    try:
        policy = load_policy(directory, overrides={relative: content})
    except PolicyError as error:
        _print_problems(error.problems, str(directory), sys.stderr)
        print(f"nothing written: the policy would be invalid with the new {relative}",
              file=sys.stderr)
        return FAILED
    before = set(_strings(old.get("members")))
    change = (f"{len(set(imported.members) - before)} added, "
              f"{len(before - set(imported.members))} removed")
    skipped = (f"{imported.blank} blank, {len(imported.duplicates)} duplicate, "
               f"{len(imported.invalid)} invalid rows skipped")
    if args.dry_run:
        print(content, end="")
        print(f"dry run, nothing written: {target} would have {len(imported.members)} members "
              f"({change}; {skipped}); policy OK (version {policy.version})")
        return OK
    write_atomically(target, content)
    print(f"wrote {target}: {len(imported.members)} members ({change}; {skipped}); "
          f"policy OK (version {policy.version})")
    return OK


def _decode_csv(raw: bytes) -> str:
    """Spreadsheet exports come as UTF-8 (with or without BOM), UTF-16 or Windows-1252."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _existing_group(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def write_atomically(path: Path, content: str) -> None:
    """Write a temporary file beside ``path``, then rename it over ``path``.

    A reader (the gateway reloading its policy) sees the old file or the new one, never half.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
