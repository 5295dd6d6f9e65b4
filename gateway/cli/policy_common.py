"""Shared by the ``stampgate policy`` modules: exit codes, loading, reporting problems."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from gateway.core.policy import Policy
from gateway.policyfiles.load import PolicyError, PolicyProblem, load_policy
from gateway.settings import SettingsError, load_settings

DEFAULT_DIR = "policies"
OK, FAILED, USAGE = 0, 1, 2


def print_problems(problems: list[PolicyProblem], directory: str, out: TextIO) -> None:
    """Each problem on its own line, its file named as the admin gave the directory."""
    for problem in problems:
        if problem.key != "(directory)":
            problem = replace(problem, file=os.path.join(directory, problem.file))
        print(problem, file=out)


def load_or_report(directory: str, command: str) -> Policy | None:
    """The policy in ``directory``, or ``None`` after saying on stderr what is wrong."""
    try:
        return load_policy(directory)
    except PolicyError as error:
        print_problems(error.problems, directory, sys.stderr)
        print(f"stampgate policy {command}: the policy in {directory} is invalid "
              f"(run: stampgate policy check {directory})", file=sys.stderr)
        return None


def usage_error(command: str, message: str) -> int:
    """Say what is wrong with the command line; the exit status for it."""
    print(f"stampgate policy {command}: error: {message}", file=sys.stderr)
    return USAGE


def policy_directory(args: argparse.Namespace) -> str | None:
    """The policy directory: DIR, else --policies, else the --config file's, else ./policies.

    ``None`` after saying what is wrong (DIR and --policies naming two directories, or a
    configuration file that cannot be used).
    """
    given: str | None = getattr(args, "directory", None)
    flag = str(args.policies) if args.policies is not None else None
    if given and flag and Path(given) != Path(flag):
        print(f"stampgate policy: error: {given} and --policies {flag} name two directories; "
              "give one", file=sys.stderr)
        return None
    if given or flag:
        return given or flag
    if args.config is not None:
        try:
            return str(load_settings(args.config, {"data": args.data}).policies)
        except SettingsError as exc:
            print(f"stampgate: {exc}", file=sys.stderr)
            return None
    return DEFAULT_DIR


def in_directory(handler: Callable[[argparse.Namespace], int]
                 ) -> Callable[[argparse.Namespace], int]:
    """``handler`` with ``args.directory`` and ``args.policies`` set to the policy directory."""

    def run(args: argparse.Namespace) -> int:
        directory = policy_directory(args)
        if directory is None:
            return USAGE
        args.directory = args.policies = directory
        return handler(args)

    return run
