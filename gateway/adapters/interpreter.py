"""Starting another Python process of the gateway's own (a worker, a reader): the same
interpreter and the same ``gateway`` package as this process, nothing from the working
directory.

``python -m`` and ``python -c`` put the working directory first on the module path, so a
``gateway`` directory where the gateway was started (a checkout of another version, a file
dropped in the data directory the service runs in) would be imported by the new process
instead of the package this one runs. ``-P`` leaves the working directory out; when this
process found its package only there (run from a source tree, not installed), that
directory is passed on explicitly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import gateway

PYTHONPATH = "PYTHONPATH"


def command(*args: str) -> list[str]:
    """The command line of a new process: this interpreter, ``-P``, then ``args``."""
    return [sys.executable, "-P", *args]


def _package_root() -> str:
    return str(Path(gateway.__file__).resolve().parent.parent)


def _safe_path() -> set[str]:
    """The directories on this process's module path that ``-P`` keeps."""
    entries = sys.path if sys.flags.safe_path else sys.path[1:]
    return {str(Path(p).resolve()) for p in entries if p}


def environment() -> dict[str, str]:
    """The environment of a new process: this one's, with the package's directory added to
    ``PYTHONPATH`` when only the working directory (or a script's) put it on the path."""
    env = dict(os.environ)
    root = _package_root()
    if root not in _safe_path():
        env[PYTHONPATH] = os.pathsep.join(p for p in (root, env.get(PYTHONPATH)) if p)
    return env
