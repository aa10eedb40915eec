"""Real services for the benchmarks, reusing the test suite's launchers."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.redis_server import RedisServer


@contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on a free 127.0.0.1 port; yields its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit("redis-server is not installed: run `bash scripts/setup.sh` first")
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(executable, Path(tmp))
        server.start()
        try:
            yield server.url
        finally:
            server.stop()
