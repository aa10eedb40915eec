"""The remote agent of tests/support/remote_agent.py as a child process, and
the fixtures the agent-to-agent tests share: one store per kind (file and
Redis) that the caller (the test process) and the agents both write to."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.storage import SessionStore
from tests.support.redis_server import RedisServer

REMOTE_AGENT = Path(__file__).parent / "remote_agent.py"


class RemoteAgent:
    """``remote_agent.py STORE_URL POLICY`` running; ``call`` posts to it."""

    def __init__(self, store_url: str, policy: str = "deny") -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(REMOTE_AGENT), store_url, policy],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"remote agent did not start (printed {line!r})")
        self.url = f"http://127.0.0.1:{int(line)}"

    def call(
        self, headers: Mapping[str, str], session_id: str, task: str, *, path: str = "/agent"
    ) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps({"session_id": session_id, "task": task}).encode(),
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                reply: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"remote agent failed: {exc.read().decode()}") from exc
        return reply

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # the agent exits when stdin closes
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture(scope="module", params=["file", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One shared store per kind for the module (its tests use distinct ids)."""
    if request.param == "file":
        return f"file://{tmp_path_factory.mktemp('a2a') / 'sessions'}"
    server: RedisServer = request.getfixturevalue("_redis_server_process")
    return server.url


@pytest.fixture
def store(store_url: str, clean_otel: None) -> Iterator[SessionStore]:
    """The caller's side: the SDK recording into the store the agents write to."""
    store = asm.create_store(store_url)
    provider = TracerProvider()
    handle = asm.configure(store=store, tracer_provider=provider)
    yield store
    handle.shutdown()
    provider.shutdown()
    store.close()
