#!/usr/bin/env bash
# The test command: set-up, lint, type check, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PYTHON=${A2A_VENV:-.venv}/bin/python
"$PYTHON" -m ruff check .
"$PYTHON" -m mypy
"$PYTHON" -m pytest "$@"
