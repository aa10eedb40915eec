"""Several real processes writing one session in the Redis store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import redis

from a2a_session_manager.storage import RedisSessionStore
from a2a_session_manager.storage._redis_keys import session_keys

ROOT = Path(__file__).resolve().parents[1]

# Each writer: N events one apply at a time (own ids, plus ids every writer
# shares), then N get/add/save rounds of a loaded session object.
WRITER = textwrap.dedent(
    """
    import sys
    from a2a_session_manager.models.session_event import SessionEvent
    from a2a_session_manager.storage import RedisSessionStore, SessionChanges

    url, name, count, saves = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = RedisSessionStore.from_url(url)
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    for i in range(count):
        event = SessionEvent(id=f"{name}-{i}", message=f"{name} {i}")
        store.apply(SessionChanges(session_id="shared", events=[event]))
        if i % 10 == 0:
            dup = SessionEvent(id=f"both-{i}", message=name)
            store.apply(SessionChanges(session_id="shared", events=[dup]))
    for i in range(saves):
        session = store.get("shared")
        session.add_event(SessionEvent(id=f"{name}-save-{i}", message="saved"))
        store.save(session)
    store.close()
    """
)


def _start_writers(
    redis_url: str, names: list[str], count: int, saves: int
) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, redis_url, name, str(count), str(saves)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in names
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return procs


def test_two_processes_append_500_events_each(redis_url: str) -> None:
    procs = _start_writers(redis_url, ["a", "b"], count=500, saves=20)
    try:
        for proc in procs:
            assert proc.wait(timeout=240) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    with RedisSessionStore.from_url(redis_url) as store:
        session = store.get("shared")
    assert session is not None
    ids = [e.id for e in session.events]
    assert len(ids) == len(set(ids))
    own = [i for i in ids if i.split("-")[0] in ("a", "b") and "-save-" not in i]
    assert len(own) == 1000
    assert {i for i in ids if i.startswith("both-")} == {f"both-{i}" for i in range(0, 500, 10)}
    assert len([i for i in ids if "-save-" in i]) == 40
    # each writer's events keep their order
    for name in "ab":
        mine = [int(i.split("-")[1]) for i in own if i.startswith(name + "-")]
        assert mine == list(range(500))


def test_a_killed_writer_leaves_a_readable_session(redis_url: str) -> None:
    (proc,) = _start_writers(redis_url, ["k"], count=100_000, saves=0)
    events_key = session_keys("session:", "shared").events
    raw = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 120
        while raw.llen(events_key) < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        raw.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    with RedisSessionStore.from_url(redis_url) as store:
        session = store.get("shared")
        assert session is not None and session.events
        ids = [e.id for e in session.events]
        assert len(ids) == len(set(ids))
        keys = session_keys("session:", "shared")
        raw = redis.Redis.from_url(redis_url)
        # the index and the list agree: every write was all or nothing
        assert raw.hlen(keys.evidx) == raw.llen(keys.events) == len(ids)
        raw.close()
        # and writing goes on where it stopped
        from a2a_session_manager.models.session_event import SessionEvent

        session.add_event(SessionEvent(id="after", message="after the crash"))
        store.save(session)
        assert store.get("shared").events[-1].id == "after"
