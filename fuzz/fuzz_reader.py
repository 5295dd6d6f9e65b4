"""Coverage-guided fuzzing (atheris) of the message walker, stamp reader and decision.

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python fuzz/fuzz_reader.py fuzz/corpus -max_total_time=300

A crash leaves ``crash-<sha1>`` in the working directory; copy it to fuzz/corpus/ so that
tests/security/test_fuzz_corpus.py replays it on every test run (see docs/security.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["gateway"]):
    from fuzz.harness import check, policy


def test_one_input(data: bytes) -> None:
    check(data)


def main() -> None:
    policy()  # load the policy once, before fuzzing starts
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
