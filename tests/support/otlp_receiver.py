"""A real OTLP/HTTP receiver for the tests (pytest plugin, listed in tests/conftest.py).

The receiver is Arize Phoenix (``arize-phoenix``): it accepts OTLP/HTTP at
``/v1/traces``, stores the spans in SQLite and serves them back over REST.
It pins many packages, so ``scripts/setup.sh`` installs it into its own venv,
``${A2A_PHOENIX_VENV:-~/.cache/a2a-session-manager/phoenix-venv}``, never into
the project's environment.

Fixture:

``otlp_receiver`` (session scope)
    An :class:`OtlpReceiver`: ``endpoint`` (``http://127.0.0.1:PORT/v1/traces``),
    ``spans(project)`` (what it has received so far) and ``wait_for_spans``.
    ``phoenix serve`` runs on free ports, bound to 127.0.0.1, in a temporary
    working directory, with telemetry and external resources off; it is
    started once (it takes seconds to become healthy) and killed at the end.
    Give each test its own project: Phoenix files spans under the resource
    attribute ``openinference.project.name`` (:data:`PROJECT_ATTRIBUTE`).

When the venv is missing the tests that need it are skipped, except in CI
(``CI=true``), where ``.ci/run`` installs it and a missing receiver fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import free_port, stop_process

PROJECT_ATTRIBUTE = "openinference.project.name"

# Generous: on a busy 2-core machine a cold start has taken close to a minute.
_START_TIMEOUT = 300.0
_POLL = 0.2


def phoenix_venv() -> Path:
    default = Path.home() / ".cache" / "a2a-session-manager" / "phoenix-venv"
    return Path(os.environ.get("A2A_PHOENIX_VENV") or default)


class OtlpReceiver:
    """A running ``phoenix serve``: where to send spans and how to read them back."""

    __test__ = False

    def __init__(self, executable: Path, directory: Path) -> None:
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The OTLP/HTTP traces endpoint."""
        return f"{self.base_url}/v1/traces"

    @property
    def log_tail(self) -> str:
        log = self.directory / "phoenix.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def _environment(self) -> dict[str, str]:
        # The receiver must not pick up the test run's OTel or Phoenix settings.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PHOENIX_"))}
        env.update(
            PHOENIX_HOST="127.0.0.1",
            PHOENIX_PORT=str(self.port),
            # Its OTLP/gRPC receiver binds every interface whatever we say;
            # pick a port free on all of them. Nothing sends to it.
            PHOENIX_GRPC_PORT=str(free_port("")),
            PHOENIX_WORKING_DIR=str(self.directory / "phoenix"),
            PHOENIX_TELEMETRY_ENABLED="false",
            PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
            PHOENIX_DISABLE_AGENT_ASSISTANT="true",
        )
        return env

    def start(self) -> None:
        log = open(self.directory / "phoenix.log", "ab")  # noqa: SIM115 - owned by the process
        self._process = subprocess.Popen(
            [str(self.executable), "serve"],
            cwd=self.directory,
            env=self._environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._healthy():
            if self._process.poll() is not None:
                raise RuntimeError(f"phoenix serve exited at start:\n{self.log_tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"phoenix serve was not healthy in time:\n{self.log_tail}")
            time.sleep(0.5)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_process(process, timeout=15)

    def spans(self, project: str) -> list[dict[str, Any]]:
        """Every span received so far for ``project`` (Phoenix's REST shape:
        ``name``, ``context.trace_id``/``span_id``, ``parent_id``,
        ``span_kind``, ``status_code``, flat ``attributes``, ``events``)."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        quoted = urllib.parse.quote(project, safe="")
        while True:
            query = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            url = f"{self.base_url}/v1/projects/{quoted}/spans?{urllib.parse.urlencode(query)}"
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    page = json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code == 404:  # the project appears with its first span
                    return out
                raise
            out.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return out

    def wait_for_spans(
        self,
        project: str,
        done: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 120.0,
    ) -> list[dict[str, Any]]:
        """Poll ``spans(project)`` until ``done(spans)``: Phoenix inserts what it
        receives in batches, a moment after answering the export."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans(project)
            if done(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted(s["name"] for s in spans)
                raise AssertionError(f"receiver has {names} for project {project!r}")
            time.sleep(_POLL)


def _phoenix_executable() -> Path:
    executable = phoenix_venv() / "bin" / "phoenix"
    if executable.exists():
        return executable
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{executable} is missing; scripts/setup.sh must install arize-phoenix")
    pytest.skip(f"OTLP receiver not installed ({executable}); run scripts/setup.sh")


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    executable = _phoenix_executable()
    with tempfile.TemporaryDirectory(prefix="a2a-phoenix-") as directory:
        receiver = OtlpReceiver(executable, Path(directory))
        receiver.start()
        try:
            yield receiver
        finally:
            receiver.stop()
