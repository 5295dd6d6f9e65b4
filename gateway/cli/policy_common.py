"""Shared by the ``stampgate policy`` modules: exit codes, loading, reporting problems."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from typing import TextIO

from gateway.core.policy import Policy
from gateway.policyfiles.load import PolicyError, PolicyProblem, load_policy

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
