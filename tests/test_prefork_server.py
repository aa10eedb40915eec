"""A pre-fork server (gunicorn ``--preload``: the app, and recording, are set
up in the master, which then forks its workers) records every request once,
never hangs a worker, and never has a worker write what the master queued."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import a2a_session_manager as asm
from tests.support.processes import free_port

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(importlib.util.find_spec("gunicorn") is None, reason="needs gunicorn"),
]

REQUESTS = 30
MASTER_EVENTS = [f"master event {i}" for i in range(5)]  # as tests/support/prefork_app.py
ROOT = Path(__file__).resolve().parents[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
        return body


def _wait_until_serving(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited at start"
        try:
            _get(f"http://127.0.0.1:{port}/warm-up")
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("gunicorn did not answer")


def test_gunicorn_preload_workers_record_each_request_once(tmp_path: Path) -> None:
    store_dir = tmp_path / "sessions"
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--preload",
            "--workers",
            "3",
            "--bind",
            f"127.0.0.1:{port}",
            "tests.support.prefork_app:app",
        ],
        cwd=ROOT,
        env={**os.environ, "A2A_TEST_STORE": f"file://{store_dir}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_serving(port, server)
        store = asm.create_store(f"file://{store_dir}")
        for n in range(REQUESTS):
            assert _get(f"http://127.0.0.1:{port}/request-{n}") == b"ok"
            # Written before the worker answered (read-your-writes, across processes).
            stored = store.get(f"request-{n}")
            assert stored is not None
            assert [e.message for e in stored.events] == [f"handled request-{n}"]
            assert len(stored.runs) == 1
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, err = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode == 0, err.decode()[-3000:]
    # What the master had queued when it forked is written once, by the master.
    master = store.get("master")
    assert master is not None
    assert [e.message for e in master.events] == MASTER_EVENTS
    log = b"".join(p.read_bytes() for p in store_dir.iterdir())
    assert all(log.count(f'"{m}"'.encode()) == 1 for m in MASTER_EVENTS)
