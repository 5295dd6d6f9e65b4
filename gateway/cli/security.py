"""``stampgate verify-stamp`` and ``stampgate keygen``: the stamp signature and secrets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.adapters.crypto import new_master_key
from gateway.adapters.signing import SignatureInvalid, resolve_key, verify
from gateway.cli.common import add_settings_arguments, settings_from
from gateway.settings import SettingsError


def register(sub: Any) -> None:
    check = sub.add_parser(
        "verify-stamp", help="check the X-Stampgate-Signature of a relayed message",
        description="Exit 0 if the message's X-Stamp was signed with stamp_signing_key, "
                    "1 if not, 2 on a usage or configuration error.")
    add_settings_arguments(check)
    check.add_argument("message", type=Path, metavar="FILE.eml",
                       help="the message as received ('-' for standard input)")
    check.add_argument("--key-file", type=Path, metavar="FILE",
                       help="read the signing key from FILE instead of the settings")
    check.set_defaults(handler=run_verify)

    keygen = sub.add_parser("keygen", help="print a new random key for held_encryption_key "
                                           "or stamp_signing_key")
    keygen.set_defaults(handler=run_keygen)


def _key(args: argparse.Namespace) -> bytes | None:
    try:
        if args.key_file is not None:
            return resolve_key(f"file:{args.key_file}")
        secret = settings_from(args).stamp_signing_key
    except (SettingsError, OSError, ValueError) as exc:
        print(f"stampgate: {exc}", file=sys.stderr)
        return None
    if secret is None:
        print("stampgate: no stamp_signing_key is configured (use --config or --key-file)",
              file=sys.stderr)
        return None
    return resolve_key(secret.get_secret_value())


def run_verify(args: argparse.Namespace) -> int:
    key = _key(args)
    if key is None:
        return 2
    try:
        data = (sys.stdin.buffer.read() if str(args.message) == "-"
                else args.message.read_bytes())
    except OSError as exc:
        print(f"stampgate: cannot read {args.message}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        verified = verify(data, key)
    except SignatureInvalid as exc:
        print(f"INVALID: {exc}")
        return 1
    print(f"OK: stamp {verified.stamp} (queue id {verified.queue_id}, "
          f"Message-ID {verified.message_id})")
    return 0


def run_keygen(args: argparse.Namespace) -> int:
    print(new_master_key())
    return 0
