"""A real ``redis-server`` for the tests (pytest plugin, listed in tests/conftest.py).

Fixtures:

``redis_server``
    The controllable server (a :class:`RedisServer`): ``host``, ``port``,
    ``url`` (``redis://127.0.0.1:PORT/0``), ``stop()`` and ``start()`` (a
    restart on the same port, to simulate an outage), ``running``,
    ``command(*args)`` (one command on a fresh connection), ``pause()`` and
    ``resume()`` (SIGSTOP / SIGCONT: a server that hangs). One process
    serves the whole test session; before each test that uses it, it is
    (re)started if a previous test left it stopped, and emptied with FLUSHALL.

``redis_url``
    ``str``: the URL of that server, emptied for this test.

The server runs with ``--save "" --appendonly no`` in a temporary directory,
bound to 127.0.0.1 on a free port, and is killed when the session ends. When
``redis-server`` is not on PATH the tests that need it are skipped, except in
CI (``CI=true``), where ``.ci/run`` installs it and a missing server fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.processes import free_port, stop_process

_START_TIMEOUT = 10.0


def _encode_command(args: tuple[str | bytes | int, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1 that tests can stop and restart."""

    __test__ = False

    def __init__(self, executable: str, directory: Path, extra_args: Sequence[str] = ()) -> None:
        self.executable = executable
        self.directory = directory
        self.extra_args = list(extra_args)  # e.g. a TLS port next to the plain one
        self.host = "127.0.0.1"
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._paused = False

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server (again, on the same port) and wait until it answers PING."""
        if self.running:
            return
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - owned by the process
        self._process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.directory),
                *self.extra_args,
            ],
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._process.poll() is not None:
                tail = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited at start:\n{tail}")
            try:
                if self.command("PING") == b"+PONG\r\n":
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.02)

    def pause(self) -> None:
        """SIGSTOP the server: connections stay open, nothing answers (a hung store)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT a paused server."""
        if self._process is not None and self._paused:
            self._process.send_signal(signal.SIGCONT)
        self._paused = False

    def stop(self) -> None:
        """Kill the server (its data is gone: nothing is saved)."""
        self.resume()  # a stopped process cannot handle SIGTERM
        process, self._process = self._process, None
        stop_process(process)

    def command(self, *args: str | bytes | int) -> bytes:
        """Send one command on a fresh connection; return its raw one-line reply
        (for simple commands such as PING, FLUSHALL, DEBUG SLEEP)."""
        with socket.create_connection((self.host, self.port), timeout=2) as sock:
            sock.sendall(_encode_command(args))
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
            return reply


def redis_executable() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("redis-server is not on PATH; .ci/run must install it (apt redis-server)")
    pytest.skip("redis-server is not installed")


@pytest.fixture(scope="session")
def _redis_server_process() -> Iterator[RedisServer]:
    executable = redis_executable()
    with tempfile.TemporaryDirectory(prefix="a2a-redis-") as directory:
        server = RedisServer(executable, Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def redis_server(_redis_server_process: RedisServer) -> RedisServer:
    """The running server, emptied for this test."""
    _redis_server_process.resume()  # a previous test may have left it paused
    _redis_server_process.start()  # or stopped
    reply = _redis_server_process.command("FLUSHALL")
    assert reply == b"+OK\r\n", reply
    return _redis_server_process


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """``redis://127.0.0.1:PORT/0`` of the server, emptied for this test."""
    return redis_server.url
