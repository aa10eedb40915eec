"""Recording never bloats the application: 2,000 runs of one 512 KiB event
each, in a fresh process, with Redis unreachable (the retry buffer fills to
its byte bound, then drops and counts) and with a real Redis answering.
Peak RSS is the process's own ``ru_maxrss``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from a2a_session_manager.exporters._buffer import RetryBuffer
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.storage.changes import SessionChanges
from tests.support.processes import free_port
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.timeout(600)

RUNS = 2000
PEAK_RSS_LIMIT_MIB = 600


def _record_big_runs(url: str) -> dict[str, int | float]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.big_events", url, str(RUNS)],
        capture_output=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    result: dict[str, int | float] = json.loads(done.stdout.decode().splitlines()[-1])
    return result


def test_long_outage_stays_within_the_byte_bound() -> None:
    result = _record_big_runs(f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=0.5")
    assert result["peak_rss_mib"] < PEAK_RSS_LIMIT_MIB, result
    # Nothing was ever written: each event was dropped by the bound or at
    # shutdown, and every one of them is counted.
    assert result["dropped_events"] == RUNS, result
    assert result["dropped_runs"] == RUNS, result
    assert result["unwritten_at_shutdown"] > 0, result


def test_big_events_into_a_live_redis_stay_small(redis_server: RedisServer) -> None:
    result = _record_big_runs(redis_server.url)
    assert result["peak_rss_mib"] < PEAK_RSS_LIMIT_MIB, result
    assert result["readable"] == RUNS, result
    # Nothing dropped. (How many returns waited out the flush deadline depends
    # on the machine's load: the benchmark reports it, the test does not time.)
    assert result["dropped_events"] == 0, result


def test_the_buffer_drops_oldest_sessions_beyond_its_byte_bound() -> None:
    buffer = RetryBuffer(max_items=1000, max_bytes=300_000)
    for n in range(5):
        events = [SessionEvent(message="y" * 100_000) for _ in range(1)]
        buffer.add(SessionChanges(session_id=f"s-{n}", events=events))
    assert buffer.bytes <= 300_000
    assert buffer.dropped.events == 3  # 100 KB each: two fit, the oldest three went
    assert [c.session_id for c, _ in buffer.take_all()] == ["s-3", "s-4"]
    assert buffer.bytes == buffer.items == 0
