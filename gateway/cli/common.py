"""What every ``stampgate`` command shares: the settings flags, secrets typed or piped, JSON.

Every sub-command takes ``--config``, ``--policies``, ``--data`` and ``--store`` the same way: flags
override the TOML file, which overrides the defaults.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from gateway.core.policy import Policy
from gateway.policyfiles.load import PolicyError, load_policy
from gateway.settings import Settings, SettingsError, load_settings


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML file of settings (flags override it)")
    parser.add_argument("--policies", type=Path, metavar="DIR",
                        help="policy directory (default ./policies)")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="data directory for the store (default ./var)")
    parser.add_argument("--store", metavar="URL",
                        help="the store: sqlite:///PATH (default: the file in the data "
                             "directory) or postgresql://USER@HOST[:PORT]/DATABASE")


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {key: getattr(args, key, None)
                 for key in ("listen", "downstream", "policies", "data", "workers")}
    overrides["store_url"] = getattr(args, "store", None)
    return load_settings(getattr(args, "config", None), overrides)


def settings_or_report(args: argparse.Namespace) -> Settings | None:
    """The settings, or ``None`` after printing why they cannot be used."""
    try:
        return settings_from(args)
    except SettingsError as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return None


def policy_or_report(settings: Settings) -> Policy | None:
    """The policy in force, or ``None`` after printing every problem that stops its use."""
    try:
        return load_policy(settings.policies)
    except PolicyError as exc:
        print(f"stampgate: the policy in {settings.policies} cannot be used:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def ask_secret(prompt: str, from_stdin: bool, flag: str = "--password-stdin") -> str | None:
    """A secret from the first line of standard input, or typed twice at the terminal.

    ``None`` after saying what to do when there is no terminal, the input ended or the two
    typings differ.
    """
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            print(f"stampgate: {flag} was given but standard input is empty", file=sys.stderr)
            return None
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        print(f"stampgate: no terminal to ask for the {prompt.lower()} on; pipe it in with "
              f"{flag}", file=sys.stderr)
        return None
    try:
        first = getpass.getpass(f"{prompt}: ")
        again = getpass.getpass(f"{prompt} again: ")
    except EOFError:
        print(f"stampgate: the input ended before the {prompt.lower()} was typed; "
              f"type it at a terminal, or pipe it in with {flag}", file=sys.stderr)
        return None
    if first != again:
        print(f"stampgate: the {prompt.lower()}s differ", file=sys.stderr)
        return None
    return first


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))
