#!/usr/bin/env bash
# The demo on a fresh machine: installs the package and its extras (not the
# browser or the OTLP receiver the tests use), then runs a real agent loop (the
# instrumented OpenAI client against a local OpenAI-compatible server on
# 127.0.0.1, decorated tools) recorded into the embedded default store, and
# shows what was recorded. The demo itself needs no network and no API key.
# Extra arguments go to the example, e.g. --store file://./sessions
set -euo pipefail
cd "$(dirname "$0")/.."
A2A_SKIP_BROWSER=1 A2A_SKIP_PHOENIX=1 bash scripts/setup.sh
PYTHON=${A2A_VENV:-.venv}/bin/python
exec "$PYTHON" examples/decorated_agent.py "$@"
