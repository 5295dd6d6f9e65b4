# Sourced by scripts/serve and scripts/test: create .venv and install stampgate into it from the
# hash-pinned lock files (requirements/run.txt, requirements/test.txt; scripts/lock writes them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ "$1" = test ]; then lock="requirements/test.txt"; else lock="requirements/run.txt"; fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml "$lock" | sha256sum | cut -c1-16)-$1"
if [ ! -f "$stamp" ]; then
  quietly() {  # show pip's output only when it fails
    local out
    out="$("$@" 2>&1)" || { echo "$out" >&2; return 1; }
  }
  quietly .venv/bin/python -m pip install --upgrade pip
  # Every package exactly as locked, each checked against its hash; then the project itself.
  quietly .venv/bin/python -m pip install --require-hashes -r "$lock"
  quietly .venv/bin/python -m pip install --no-deps -e .
  if ! .venv/bin/python -m pip check >/dev/null; then
    .venv/bin/python -m pip check >&2 || true
    echo "$lock does not satisfy pyproject.toml: run scripts/lock and commit requirements/" >&2
    exit 2
  fi
  touch "$stamp"
fi
