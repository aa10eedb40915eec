#!/usr/bin/env bash
# Installs everything the demo and the tests need on a fresh machine:
# the package with its extras, and the system services the tests start
# themselves (redis-server, headless Chromium for the HTML report test).
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything goes into the project's own virtualenv (.venv), never into the
# machine's Python. A2A_VENV points elsewhere if wanted.
VENV=${A2A_VENV:-.venv}
BASE_PYTHON=${BASE_PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$BASE_PYTHON" -m venv "$VENV"
fi
PYTHON="$VENV/bin/python"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$PYTHON" -m pip install --quiet --disable-pip-version-check -e ".[dev,tools]"

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ "${A2A_SKIP_BROWSER:-0}" != "1" ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need_apt[*]} with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "warning: please install ${need_apt[*]} (tests that need them will be skipped)" >&2
  fi
fi

# --- OTLP receiver for the tests (tests/support/otlp_receiver.py) ---------
# Arize Phoenix receives OTLP/HTTP on 127.0.0.1 and serves the spans back over
# REST. It pins many packages, so it lives in its own venv, never in ours.
PHOENIX_VENV=${A2A_PHOENIX_VENV:-$HOME/.cache/a2a-session-manager/phoenix-venv}
if [ "${A2A_SKIP_PHOENIX:-0}" != "1" ] && [ ! -x "$PHOENIX_VENV/bin/phoenix" ]; then
  echo "installing arize-phoenix into $PHOENIX_VENV" >&2
  "$BASE_PYTHON" -m venv "$PHOENIX_VENV"
  "$PHOENIX_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "arize-phoenix==20.26.1"  # the version the tests were written against
fi
# --- end OTLP receiver -----------------------------------------------------
