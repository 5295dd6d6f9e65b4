"""``stampgate policy ...``: check, explain, test and import-group, for policy admins."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from gateway.cli.common import add_settings_arguments
from gateway.cli.policy_common import (
    DEFAULT_DIR,
    FAILED,
    OK,
    in_directory,
    load_or_report,
    print_problems,
    usage_error,
)
from gateway.cli.policy_groups import run_import_group
from gateway.core.explain import explain, rule_table
from gateway.core.label_writers import label_lines
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.core.rules import RULES
from gateway.policyfiles.load import PolicyError, load_policy
from gateway.policyfiles.testing import (
    CaseResult,
    Scenario,
    ScenarioError,
    case_files,
    decide_scenario,
    run_cases,
)


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
    check.add_argument("directory", nargs="?", metavar="DIR",
                       help=f"the policy directory (default: --policies, the --config file's, "
                            f"or ./{DEFAULT_DIR})")
    add_settings_arguments(check)
    check.set_defaults(handler=in_directory(run_check))

    what_if = sub.add_parser(
        "explain", help="show what the policy does with one message, or list its rules",
        description="Decide one message as the gateway would, and say why, in words or JSON "
                    "(--from, --to and --stamp or --message). With --rules, list the decision "
                    "rules in the order they run, with their descriptions, and the audience "
                    "rules of the policy with their verdicts.")
    what_if.add_argument("--rules", action="store_true",
                         help="list the rules in the order they run and the policy's audience "
                              "rules with their verdicts, instead of deciding a message")
    what_if.add_argument("--from", dest="sender", metavar="ADDR",
                         help="the envelope sender (MAIL FROM); required unless --rules")
    what_if.add_argument("--to", dest="recipients", action="append", metavar="ADDR",
                         help="an envelope recipient (RCPT TO); repeat for more; required "
                              "unless --rules")
    given = what_if.add_mutually_exclusive_group()
    given.add_argument("--stamp", metavar="STAMP",
                       help="a stamp name (cleared, needs_adjustment, internal, confidential, "
                            "none) or a stamp line as staff write it")
    given.add_argument("--message", metavar="FILE.eml", help="a whole message; - for stdin")
    what_if.add_argument("--thread", dest="thread_stamp", metavar="STAMP",
                         help="the message replies to a known thread with this stamp")
    what_if.add_argument("--participant", dest="participants", action="append", default=[],
                         metavar="ADDR", help="a participant of that thread's confidential "
                                              "chain; repeat for more")
    add_settings_arguments(what_if)
    what_if.add_argument("--json", action="store_true", help="print the decision as JSON")
    what_if.set_defaults(handler=in_directory(run_explain), explain_parser=what_if)

    test = sub.add_parser("test", help="run the admin-written cases in DIR/tests/*.toml",
                          description="Run the cases kept beside the policy; exit 1 on any "
                                      "failure.")
    test.add_argument("directory", nargs="?", metavar="DIR",
                      help=f"the policy directory (default: --policies, the --config file's, "
                           f"or ./{DEFAULT_DIR})")
    add_settings_arguments(test)
    test.add_argument("-k", dest="keyword", metavar="TEXT",
                      help="run only the cases whose name contains TEXT")
    test.add_argument("-v", "--verbose", action="store_true",
                      help="explain the decision of each failed case")
    test.set_defaults(handler=in_directory(run_test))

    group = sub.add_parser(
        "import-group", help="write groups/NAME.toml from a staff-directory CSV export",
        description="Generate a group file from a CSV export, check the whole policy with "
                    "it, then write it atomically. Nothing is written if anything is wrong.")
    group.add_argument("name", metavar="NAME", help="the group name (the file groups/NAME.toml)")
    group.add_argument("csv_file", metavar="FILE.csv", help="the CSV export, header row first")
    add_settings_arguments(group)
    group.add_argument("--column", metavar="HEADER",
                       help="the email column's header (default: detected, e.g. Email)")
    group.add_argument("--description", help="the group's description (default: kept from "
                                             "the existing file)")
    group.add_argument("--skip-invalid", action="store_true",
                       help="leave invalid rows out instead of refusing to write")
    group.add_argument("--dry-run", action="store_true",
                       help="check and print the file, but do not write it")
    group.set_defaults(handler=in_directory(run_import_group))


def run_check(args: argparse.Namespace) -> int:
    directory: str = args.directory
    try:
        policy = load_policy(directory)
    except PolicyError as error:
        print_problems(error.problems, directory, sys.stdout)
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
        f"  labels: {_label_tables(policy)}; an unmapped label is "
        f"{'ignored' if policy.labels.unknown == 'ignore' else 'unreadable'}",
        f"  photos: {policy.photos.summary()}",
        f"  partners: {policy.partners.summary()}",
        f"  case files: {cases} in {os.path.join(directory, 'tests')} "
        f"(run: stampgate policy test {directory})",
    ])


def _label_tables(policy: Policy) -> str:
    """``msip 5 mapped, tlp 5 mapped, protective-marking gov.au 6 mapped, sio none``."""
    labels = policy.labels
    parts = [f"msip {len(labels.msip)} mapped",
             f"tlp {len(labels.tlp)} mapped" if labels.tlp else "tlp not read"]
    markings = [f"{ns} {len(table)} mapped" for ns, table in labels.protective_marking.items()]
    parts.append("protective-marking " + (", ".join(markings) if markings else "not read"))
    policies = [f"{oid} {len(table)} mapped" for oid, table in labels.sio.items()]
    parts.append("sio " + (", ".join(policies) if policies else "not read"))
    return "; ".join(parts)


def run_explain(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.explain_parser
    if args.rules:
        given = [option for option, value in _message_options(args) if value]
        if given:
            parser.error("--rules lists the rules and decides no message: leave out "
                         + ", ".join(given))
        return run_rules(args.policies)
    missing = [option for option, value in (("--from", args.sender), ("--to", args.recipients))
               if not value]
    if args.stamp is None and args.message is None:
        missing.append("one of --stamp, --message")
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)} "
                     "(or --rules)")
    message: bytes | None = None
    if args.message is not None:
        try:
            message = (sys.stdin.buffer.read() if args.message == "-"
                       else Path(args.message).read_bytes())
        except OSError as exc:
            return usage_error("explain", f"--message {args.message}: {exc.strerror or exc}")
    policy = load_or_report(args.policies, "explain")
    if policy is None:
        return FAILED
    scenario = Scenario(sender=args.sender, recipients=tuple(args.recipients),
                        stamp=args.stamp, message=message, thread_stamp=args.thread_stamp,
                        participants=tuple(args.participants))
    try:
        decision = decide_scenario(policy, scenario)
    except ScenarioError as exc:
        return usage_error("explain", str(exc))
    if args.json:
        print(json.dumps(decision.to_dict(), indent=2, ensure_ascii=False))
    else:
        if args.stamp is not None:
            print(f"what if: a message whose first line is {args.stamp!r}")
        print(explain(decision, args.policies))
        recipients = [parse_recipient(a, policy.organisation.plus_separator)
                      for a in args.recipients]
        for line in label_lines(policy, decision, recipients):
            print(line)
    return OK


def _message_options(args: argparse.Namespace) -> list[tuple[str, object]]:
    return [("--from", args.sender), ("--to", args.recipients), ("--stamp", args.stamp),
            ("--message", args.message), ("--thread", args.thread_stamp),
            ("--participant", args.participants), ("--json", args.json)]


def run_rules(directory: str) -> int:
    """``policy explain --rules``: the rule table and the loaded policy's audience rules."""
    policy = load_or_report(directory, "explain")
    if policy is None:
        return FAILED
    print(rule_table(policy, RULES, directory))
    return OK

def run_test(args: argparse.Namespace) -> int:
    directory: str = args.directory
    policy = load_or_report(directory, "test")
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
