"""The Redis store on a real Redis Cluster (three masters, one replica each,
all on 127.0.0.1): one slot per session, the index spread over the masters,
two processes writing one session, and masters failing over mid-run without
losing an acknowledged write.

The paging, query and async tests of test_session_queries.py and
test_async_reads.py also run on this cluster ("cluster" store)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_run import SessionRun
from a2a_session_manager.storage import (
    RedisSessionStore,
    SessionChanges,
    StoreUnavailableError,
    UnknownStoreURLError,
    create_redis_session_store,
    create_store,
)
from a2a_session_manager.storage._redis_keys import INDEX_SHARDS, index_keys, session_keys
from tests.support.redis_cluster import RedisCluster

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cluster(redis_cluster: RedisCluster) -> RedisCluster:
    redis_cluster.wait_healthy()
    redis_cluster.flush()
    return redis_cluster


@pytest.fixture
def store(cluster: RedisCluster) -> Iterator[RedisSessionStore]:
    made = create_store(cluster.url)
    assert isinstance(made, RedisSessionStore)
    yield made
    made.close()


def _slot(client: Any, key: str) -> int:
    return int(client.cluster_keyslot(key))


def test_a_session_round_trips_and_its_keys_share_one_slot(
    store: RedisSessionStore, cluster: RedisCluster
) -> None:
    session = Session(id="trip {42}")
    session.metadata.properties["user"] = "ann"
    session.state["step"] = 2
    session.runs.append(SessionRun())
    for n in range(30):
        session.add_event(SessionEvent(message=f"m{n}"))
    store.save(session)
    loaded = store.get("trip {42}")
    assert loaded is not None
    assert [e.message for e in loaded.events] == [f"m{n}" for n in range(30)]
    assert loaded.state == {"step": 2} and loaded.metadata.properties == {"user": "ann"}
    assert store.exists("trip {42}") and store.list_sessions() == ["trip {42}"]
    client = store.client
    assert len({_slot(client, key) for key in session_keys("session:", "trip {42}")}) == 1
    store.delete("trip {42}")
    assert store.get("trip {42}") is None and store.list_sessions() == []


def test_the_index_is_spread_over_every_master(
    store: RedisSessionStore, cluster: RedisCluster
) -> None:
    for n in range(200):
        store.apply(SessionChanges(session_id=f"s{n:03d}"))
    client = store.client
    masters = {
        cluster.master_of_slot(_slot(client, index_keys("session:", shard).ids))
        for shard in range(INDEX_SHARDS)
    }
    assert masters == set(cluster.masters())
    biggest = max(client.zcard(index_keys("session:", shard).ids) for shard in range(INDEX_SHARDS))
    assert biggest < 200 // 4  # no key holds all (or most) sessions
    assert store.list_sessions() == [f"s{n:03d}" for n in range(200)]


def test_urls_and_arguments(cluster: RedisCluster) -> None:
    host, port = cluster.url.removeprefix("redis+cluster://").split(",")[0].split(":")
    by_args = create_redis_session_store(
        cluster=True, startup_nodes=[(host, int(port))], key_prefix="x:"
    )
    by_args.apply(SessionChanges(session_id="a"))
    assert by_args.list_sessions() == ["a"]
    by_url = create_store(cluster.url + "?key_prefix=x:&ttl=60&socket_timeout=2")
    assert by_url.list_sessions() == ["a"]
    by_url.close()
    by_args.close()
    for bad in ("redis+cluster://nohost/", "redis+cluster://h:1/?wait_replicas=x"):
        with pytest.raises(UnknownStoreURLError):
            create_store(bad)


WRITER = textwrap.dedent(
    """
    import sys
    from a2a_session_manager.models.session_event import SessionEvent
    from a2a_session_manager.storage import SessionChanges, create_store

    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = create_store(url)
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(count):
        event = SessionEvent(id=f"{name}-{i}", message=f"{name} {i}")
        store.apply(SessionChanges(session_id="shared", events=[event]))
    store.close()
    """
)


def test_two_processes_write_one_session(store: RedisSessionStore, cluster: RedisCluster) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, cluster.url, name, "300"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("a", "b")
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.wait(timeout=240) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    session = store.get("shared")
    assert session is not None
    for name in "ab":
        mine = [int(e.id.split("-")[1]) for e in session.events if e.id.startswith(name + "-")]
        assert mine == list(range(300))
    assert store.summary("shared").events == 600  # type: ignore[union-attr]


class _Writer(threading.Thread):
    """Appends events one at a time, writing each again until the store
    acknowledges it (what the session exporter's retry buffer does)."""

    def __init__(self, store: RedisSessionStore, session_id: str, count: int) -> None:
        super().__init__(daemon=True)
        self.store, self.session_id, self.count = store, session_id, count
        self.acknowledged: list[str] = []
        self.failures = 0
        self.last_error: BaseException | None = None
        self.progress = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 120
        for n in range(self.count):
            event = SessionEvent(id=f"e{n}", message=str(n))
            while time.monotonic() < deadline:
                try:
                    self.store.apply(SessionChanges(session_id=self.session_id, events=[event]))
                except StoreUnavailableError as exc:
                    self.failures += 1
                    self.last_error = exc
                    time.sleep(0.05)
                    continue
                self.acknowledged.append(event.id)
                if n == self.count // 4:
                    self.progress.set()
                break


def _failover_mid_run(cluster: RedisCluster, url: str, how: str) -> None:
    store = create_store(url)
    assert isinstance(store, RedisSessionStore)
    session_id = f"busy-{how}"
    store.apply(SessionChanges(session_id=session_id))
    master = cluster.master_of_slot(_slot(store.client, session_keys("session:", session_id).meta))
    replica = cluster.replica_of(master)
    writer = _Writer(store, session_id, 400)
    writer.start()
    assert writer.progress.wait(timeout=60)
    if how == "manual":
        cluster.failover(replica)
    else:
        cluster.kill(master)
        cluster.wait_promoted(replica)
        # Writes wait for a replica (wait_replicas=1): none is left until
        # the old master comes back, as a replica of the new one.
        cluster.restart(master)
    writer.join(timeout=180)
    assert not writer.is_alive()
    # the writer recovered and finished
    assert len(writer.acknowledged) == 400, (writer.failures, repr(writer.last_error))
    cluster.wait_healthy()
    assert replica in cluster.masters()
    reader = create_store(url)
    session = reader.get(session_id)
    assert session is not None
    stored = [e.id for e in session.events]
    assert stored == writer.acknowledged  # nothing acknowledged is lost, nothing doubled
    assert reader.summary(session_id).events == 400  # type: ignore[union-attr]
    assert session_id in reader.list_sessions()
    reader.close()
    store.close()


def test_manual_failover_mid_run_loses_nothing(cluster: RedisCluster) -> None:
    _failover_mid_run(cluster, cluster.url, "manual")


def test_killed_master_mid_run_loses_nothing_acknowledged(cluster: RedisCluster) -> None:
    # Replication is asynchronous: only writes a replica acknowledged (WAIT)
    # survive a master killed outright, so the store waits for one.
    _failover_mid_run(cluster, cluster.url + "?wait_replicas=1", "kill")
