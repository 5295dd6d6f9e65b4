"""``stampgate policy import-group``: a group file from a staff-directory CSV export."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from gateway.cli.policy_common import FAILED, OK, print_problems, usage_error
from gateway.core.policy import GROUPS_DIR, is_group_name
from gateway.policyfiles.group_import import GroupImportError, group_toml, read_directory_csv
from gateway.policyfiles.load import PolicyError, load_policy


def run_import_group(args: argparse.Namespace) -> int:
    """Check the CSV and the whole policy with the new file, then write it atomically."""
    name: str = args.name
    directory = Path(args.policies)
    if not is_group_name(name):
        return usage_error("import-group", f"{name!r} is not a group name "
                                           "(lower-case letters, digits, - and _)")
    if not directory.is_dir():
        return usage_error("import-group", f"policy directory {directory} not found")
    try:
        text = _decode_csv(Path(args.csv_file).read_bytes())
        imported = read_directory_csv(text, args.column)
    except OSError as exc:
        return usage_error("import-group", f"{args.csv_file}: {exc.strerror or exc}")
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
        print_problems(error.problems, str(directory), sys.stderr)
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
