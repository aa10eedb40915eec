"""The Redis session store against a real redis-server (tests/support/redis_server.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.session_run import RunStatus, SessionRun
from a2a_session_manager.storage import (
    InMemorySessionStore,
    InvalidSessionIdError,
    RedisSessionStore,
    SessionChanges,
    SessionCorruptedError,
    SessionStore,
    SessionStoreProvider,
    StoreError,
    StoreUnavailableError,
    create_redis_session_store,
    create_store,
)
from a2a_session_manager.storage._redis_keys import session_keys
from tests.support.redis_server import RedisServer

HOSTILE_IDS = [
    "../x",
    "a/b",
    "a\x00b",
    "}{",
    "{x}",
    "a}:meta",
    "%7D",
    "session:index",
    "é🙂中文",
    " ",
    "x" * 10_240,
]


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisSessionStore]:
    s = RedisSessionStore.from_url(redis_url)
    yield s
    s.close()


@pytest.fixture
def fresh(redis_url: str) -> Iterator[Any]:
    """Opens new store instances (cold reads: nothing cached in the writer)."""
    opened: list[RedisSessionStore] = []

    def open_store(**kwargs: Any) -> RedisSessionStore:
        s = RedisSessionStore.from_url(redis_url, **kwargs)
        opened.append(s)
        return s

    yield open_store
    for s in opened:
        s.close()


def _event(text: str = "hi", **fields: Any) -> SessionEvent:
    return SessionEvent(message=text, **fields)


def _dump(session: Session | None, *, times: bool = True) -> dict[str, Any] | None:
    if session is None:
        return None
    data = session.model_dump(mode="json")
    if not times:  # default metadata is stamped "now" by each store
        del data["metadata"]["created_at"], data["metadata"]["updated_at"]
    return data


# -- the seed API --------------------------------------------------------------


def test_seed_readme_redis_snippet(redis_server: RedisServer) -> None:
    store = create_redis_session_store(
        host="localhost",
        port=redis_server.port,
        db=0,
        key_prefix="session:",
        expiration_seconds=86400,  # 24 hours
    )
    SessionStoreProvider.set_store(store)

    session = Session()
    session.add_event(
        SessionEvent(message="Hello, this is a user message", source=EventSource.USER)
    )
    llm_event = SessionEvent.create_with_tokens(
        message="Hello! How can I help?",
        prompt="Hello, this is a user message",
        completion="Hello! How can I help?",
        model="gpt-4o-mini",
        source=EventSource.LLM,
    )
    session.add_event(llm_event)
    store.save(session)

    retrieved = SessionStoreProvider.get_store().get(session.id)
    assert retrieved is not None
    assert [e.message for e in retrieved.events] == [e.message for e in session.events]
    assert retrieved.token_summary.total_tokens == session.token_summary.total_tokens > 0
    assert isinstance(store, SessionStore)
    store.close()


def test_create_store_from_url(redis_server: RedisServer, raw: redis.Redis) -> None:
    store = create_store(f"redis://127.0.0.1:{redis_server.port}/0?key_prefix=app:&ttl=60")
    assert isinstance(store, RedisSessionStore)
    store.apply(SessionChanges(session_id="u", events=[_event()]))
    assert raw.exists("app:{u}:meta")
    assert 0 < raw.ttl("app:{u}:events") <= 60
    store.close()


# -- same semantics as the in-memory reference store -------------------------------


def _changes_script() -> list[SessionChanges]:
    t0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    first = _event("first", id="e1", task_id="r1")
    usage = SessionEvent.create_with_tokens(
        message="reply", prompt="what is up", completion="reply", model="gpt-4o", id="e2"
    )
    run = SessionRun(id="r1", name="planner", status=RunStatus.RUNNING, started_at=t0)
    done = run.model_copy(update={"status": RunStatus.COMPLETED, "ended_at": t0})
    return [
        SessionChanges(
            session_id="s",
            metadata=SessionMetadata(created_at=t0, updated_at=t0, properties={"user": "u1"}),
            state={"a": 1, "nested": {"x": [1, 2]}},
            events=[first, usage],
            runs=[run],
        ),
        SessionChanges(
            session_id="s",
            metadata=SessionMetadata(
                created_at=t0 + timedelta(hours=1),
                updated_at=t0 + timedelta(hours=2),
                properties={"user": "u2", "lang": "fr"},
            ),
            state={"b": None},
            # e1 again: replaced in place; e3 appended once although given twice
            events=[
                _event("first, edited", id="e1"),
                _event("third", id="e3"),
                _event("x", id="e3"),
            ],
            runs=[done, SessionRun(id="r2", name="tool")],
            child_ids=["c0"],
        ),
        SessionChanges(session_id="s", events=[_event("fourth", id="e4", type="my.kind")]),
        SessionChanges(session_id="child", parent_id="s", events=[_event("c", id="ce")]),
        SessionChanges(session_id="orphan", parent_id="missing-parent"),
        SessionChanges(session_id="self", parent_id="self"),
    ]


def test_mirrors_the_memory_store(store: RedisSessionStore, fresh: Any) -> None:
    memory = InMemorySessionStore()
    for changes in _changes_script():
        memory.apply(changes)
        store.apply(changes)
    reader = fresh()
    for sid in ("s", "child", "orphan", "self", "missing-parent", "nope"):
        times = sid == "s"
        assert _dump(reader.get(sid), times=times) == _dump(memory.get(sid), times=times), sid
        assert reader.exists(sid) == memory.exists(sid)
        assert reader.children(sid) == memory.children(sid)
    assert sorted(reader.list_sessions()) == sorted(memory.list_sessions())

    s = reader.get("s")
    assert [e.id for e in s.events] == ["e1", "e2", "e3", "e4"]
    assert s.events[0].message == "first, edited"
    assert s.events[3].type == "my.kind"
    assert s.events[1].type is EventType.MESSAGE
    assert s.metadata.created_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert s.metadata.updated_at == datetime(2025, 1, 1, 14, 0, tzinfo=UTC)
    assert s.metadata.properties == {"user": "u2", "lang": "fr"}
    assert s.state == {"a": 1, "nested": {"x": [1, 2]}, "b": None}
    assert [(r.id, r.status) for r in s.runs] == [
        ("r1", RunStatus.COMPLETED),
        ("r2", RunStatus.PENDING),
    ]
    assert s.child_ids == ["c0", "child"]
    assert s.token_summary.total_tokens == s.events[1].token_usage.total_tokens > 0
    assert reader.get("child").parent_id == "s"


def test_save_of_a_loaded_session_appends_only_what_is_new(
    store: RedisSessionStore, fresh: Any
) -> None:
    session = Session(id="s")
    session.add_event(_event("one"))
    store.save(session)

    mine = fresh().get("s")
    theirs = fresh().get("s")
    mine.add_event(_event("mine"))
    theirs.add_event(_event("theirs"))
    fresh().save(mine)
    fresh().save(theirs)
    fresh().save(theirs)  # nothing new: no change

    final = fresh().get("s")
    assert [e.message for e in final.events] == ["one", "mine", "theirs"]


def test_get_marks_the_session_persisted(store: RedisSessionStore, raw: redis.Redis) -> None:
    store.apply(SessionChanges(session_id="s", events=[_event()], runs=[SessionRun()]))
    loaded = store.get("s")
    assert loaded is not None
    from a2a_session_manager.storage.changes import changes_since_persisted

    pending = changes_since_persisted(loaded)
    assert pending.events == [] and pending.runs == []


def test_hierarchy_reads_through_the_store(store: RedisSessionStore) -> None:
    store.apply(SessionChanges(session_id="root"))
    store.apply(SessionChanges(session_id="mid", parent_id="root"))
    store.apply(SessionChanges(session_id="leaf", parent_id="mid"))
    leaf = store.get("leaf")
    root = store.get("root")
    assert [s.id for s in leaf.ancestors(store)] == ["mid", "root"]
    assert [s.id for s in root.descendants(store)] == ["mid", "leaf"]


# -- layout: one slot per session, TTL on every key ----------------------------


def _session_key_names(raw: redis.Redis, prefix: str, sid: str) -> list[bytes]:
    return [k.encode() for k in session_keys(prefix, sid) if raw.exists(k)]


@pytest.mark.parametrize("sid", ["plain", *HOSTILE_IDS], ids=lambda s: repr(s)[:20])
def test_all_keys_of_a_session_share_one_cluster_slot(
    store: RedisSessionStore, raw: redis.Redis, sid: str
) -> None:
    store.apply(
        SessionChanges(
            session_id=sid,
            metadata=SessionMetadata(properties={"p": 1}),
            state={"k": "v"},
            events=[_event()],
            runs=[SessionRun()],
            child_ids=["c"],
        )
    )
    keys = [k for k in raw.scan_iter(count=1000) if b"{~index:" not in k]
    assert len(keys) == 8  # every key but evuse (no event with usage)
    assert set(keys) == set(_session_key_names(raw, "session:", sid))
    assert len({key_slot(k) for k in keys}) == 1


def test_ttl_is_set_and_refreshed_on_every_key(fresh: Any, raw: redis.Redis) -> None:
    store = fresh(expiration_seconds=300)
    store.apply(
        SessionChanges(
            session_id="s",
            metadata=SessionMetadata(properties={"p": 1}),
            state={"k": 1},
            events=[_event()],
            runs=[SessionRun()],
            child_ids=["c"],
        )
    )
    store.apply(SessionChanges(session_id="kid", parent_id="s"))
    for sid in ("s", "kid"):
        for key in _session_key_names(raw, "session:", sid):
            assert 0 < raw.ttl(key) <= 300, key
    for key in raw.scan_iter(match="session:{~index:*"):
        assert raw.ttl(key) == -1  # the index is pruned, not expired

    for key in _session_key_names(raw, "session:", "s"):
        raw.pexpire(key, 5_000)
    store.apply(SessionChanges(session_id="s", events=[_event("again")]))
    for key in _session_key_names(raw, "session:", "s"):
        assert raw.ttl(key) > 5, key


def test_no_expiry_without_expiration_seconds(store: RedisSessionStore, raw: redis.Redis) -> None:
    store.apply(SessionChanges(session_id="s", events=[_event()]))
    assert all(raw.ttl(k) == -1 for k in _session_key_names(raw, "session:", "s"))


def test_expired_sessions_leave_the_listing(fresh: Any, raw: redis.Redis) -> None:
    store = fresh(expiration_seconds=3600)
    for sid in ("keep", "gone"):
        store.apply(SessionChanges(session_id=sid, events=[_event()]))
    for key in _session_key_names(raw, "session:", "gone"):
        raw.pexpire(key, 1)
    time.sleep(0.05)
    assert store.get("gone") is None
    assert store.list_sessions() == ["keep"]
    assert raw.zscore("session:index", "gone") is None  # pruned


def test_invalid_expiration_is_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="expiration_seconds"):
        RedisSessionStore.from_url(redis_url, expiration_seconds=0)


# -- listing --------------------------------------------------------------------


def test_list_sessions_in_id_order_with_prefix_and_never_keys(fresh: Any, raw: redis.Redis) -> None:
    store = fresh(key_prefix="s:")
    raw.config_resetstat()
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    ids = ["s:s:1", "user-b", "user-a", "s:"]
    for n, sid in enumerate(ids):
        store.apply(
            SessionChanges(
                session_id=sid, metadata=SessionMetadata(created_at=t0 + timedelta(minutes=n))
            )
        )
    # an older creation time merged in later moves the session up
    store.apply(
        SessionChanges(session_id="s:", metadata=SessionMetadata(created_at=t0 - timedelta(1)))
    )

    assert store.list_sessions() == ["s:", "s:s:1", "user-a", "user-b"]
    assert store.list_sessions("user-") == ["user-a", "user-b"]
    assert store.list_sessions("s:") == ["s:", "s:s:1"]
    assert store.list_sessions("none") == []
    assert fresh(key_prefix="other:").list_sessions() == []

    stats = raw.info("commandstats")
    assert "cmdstat_keys" not in stats
    assert "cmdstat_scan" not in stats
    assert "cmdstat_zrangebylex" in stats


def test_delete(store: RedisSessionStore, raw: redis.Redis) -> None:
    store.apply(SessionChanges(session_id="p"))
    store.apply(SessionChanges(session_id="c", parent_id="p", events=[_event()]))
    store.delete("c")
    assert store.get("c") is None
    assert not store.exists("c")
    assert store.children("p") == []
    assert store.list_sessions() == ["p"]
    assert _session_key_names(raw, "session:", "c") == []
    store.delete("c")  # deleting again is fine
    store.delete("")


# -- hostile input -----------------------------------------------------------------


@pytest.mark.parametrize("sid", HOSTILE_IDS, ids=lambda s: repr(s)[:20])
def test_hostile_ids_round_trip(store: RedisSessionStore, fresh: Any, sid: str) -> None:
    store.apply(SessionChanges(session_id=sid, events=[_event(sid)], child_ids=[sid + "/kid"]))
    store.apply(SessionChanges(session_id=sid + "/kid", parent_id=sid))
    reader = fresh()
    loaded = reader.get(sid)
    assert loaded is not None and loaded.id == sid
    assert loaded.events[0].message == sid
    assert reader.children(sid) == [sid + "/kid"]
    assert reader.get(sid + "/kid").parent_id == sid
    assert reader.exists(sid)
    assert set(reader.list_sessions()) == {sid, sid + "/kid"}
    assert reader.list_sessions(sid) == [sid, sid + "/kid"]
    reader.delete(sid)
    assert not reader.exists(sid) and reader.exists(sid + "/kid")


def test_ids_that_look_like_keys_do_not_collide(store: RedisSessionStore) -> None:
    for sid in ("a", "a}:meta", "a%7D:meta", "{a}", "%7Ba%7D"):
        store.apply(SessionChanges(session_id=sid, events=[_event(sid)]))
    for sid in ("a", "a}:meta", "a%7D:meta", "{a}", "%7Ba%7D"):
        assert [e.message for e in store.get(sid).events] == [sid]


@pytest.mark.parametrize("bad", ["", "\ud800", 42, None])
def test_invalid_ids(store: RedisSessionStore, bad: Any) -> None:
    with pytest.raises(InvalidSessionIdError):
        store.apply(SessionChanges(session_id=bad))
    assert store.get(bad) is None
    assert not store.exists(bad)
    assert store.children(bad) == []


def test_invalid_parent_id_is_refused(store: RedisSessionStore) -> None:
    with pytest.raises(InvalidSessionIdError):
        store.apply(SessionChanges(session_id="s", parent_id="\udcff"))


def test_huge_odd_and_unicode_payloads_round_trip(store: RedisSessionStore, fresh: Any) -> None:
    huge = "ü" * (5 * 1024 * 1024)
    session = Session(id="s", state={"set": {1}, "obj": object(), "bytes": b"\xff\xfe", "u": "🙂"})
    session.metadata.set_property("sock", threading.Lock())
    session.metadata.set_property("ok", {"deep": [1, "二"]})
    session.add_event(_event(huge))
    session.add_event(SessionEvent(message={"args": b"\x80abc", "t": (1, 2)}, type="vendor.custom"))
    session.add_event(_event("lone \ud800 surrogate"))
    store.save(session)

    loaded = fresh().get("s")
    assert loaded.events[0].message == huge
    assert loaded.events[1].type == "vendor.custom"
    assert loaded.events[1].message == {"args": "\\x80abc", "t": [1, 2]}
    assert loaded.events[2].message == "lone \\ud800 surrogate"
    assert loaded.state["set"] == [1]
    assert loaded.state["obj"].startswith("<object object")
    assert loaded.state["bytes"] == "\\xff\\xfe"
    assert loaded.state["u"] == "🙂"
    assert "lock" in loaded.metadata.properties["sock"]
    assert loaded.metadata.properties["ok"] == {"deep": [1, "二"]}


def test_many_events_in_one_write_keep_order(store: RedisSessionStore, fresh: Any) -> None:
    events = [_event(str(i), id=f"e{i}") for i in range(2_500)]
    events.append(_event("dup", id="e5"))  # same id later in the same write: replaces
    store.apply(SessionChanges(session_id="s", events=events))
    loaded = fresh().get("s")
    assert [e.id for e in loaded.events] == [f"e{i}" for i in range(2_500)]
    assert loaded.events[5].message == "dup"


# -- concurrency --------------------------------------------------------------------


def test_eight_threads_writing_one_session(store: RedisSessionStore, fresh: Any) -> None:
    store.apply(SessionChanges(session_id="s"))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(50):
                store.apply(SessionChanges(session_id="s", events=[_event(id=f"t{n}-{i}")]))
                # every thread also writes the same shared ids: stored once each
                store.apply(SessionChanges(session_id="s", events=[_event(id=f"shared-{i}")]))
            own = fresh()
            for i in range(10):
                loaded = own.get("s")
                loaded.add_event(_event(id=f"saved{n}-{i}"))
                own.save(loaded)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = [e.id for e in fresh().get("s").events]
    assert len(ids) == len(set(ids)) == 8 * 50 + 50 + 8 * 10


# -- failures -------------------------------------------------------------------------


def test_outage_raises_unavailable_and_the_same_store_recovers(
    redis_server: RedisServer,
) -> None:
    store = RedisSessionStore.from_url(redis_server.url)
    store.apply(SessionChanges(session_id="s", events=[_event("before")]))
    redis_server.stop()
    try:
        calls = [
            lambda: store.apply(SessionChanges(session_id="s", events=[_event("during")])),
            lambda: store.get("s"),
            lambda: store.exists("s"),
            lambda: store.list_sessions(),
            lambda: store.children("s"),
            lambda: store.delete("s"),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailableError) as info:
                call()
            assert isinstance(info.value.__cause__, redis.ConnectionError)
    finally:
        redis_server.start()
    # the restarted server saved nothing; the same store object works again,
    # reloading its script on the way
    store.apply(SessionChanges(session_id="s", events=[_event("after")]))
    assert [e.message for e in store.get("s").events] == ["after"]
    assert store.list_sessions() == ["s"]
    store.close()


def test_other_redis_errors_become_store_errors(store: RedisSessionStore, raw: redis.Redis) -> None:
    raw.config_set("maxmemory", "1")
    raw.config_set("maxmemory-policy", "noeviction")
    try:
        with pytest.raises(StoreError) as info:
            store.apply(SessionChanges(session_id="s", events=[_event()]))
        assert not isinstance(info.value, StoreUnavailableError | SessionCorruptedError)
        assert isinstance(info.value.__cause__, redis.RedisError)
    finally:
        raw.config_set("maxmemory", "0")


def _write_valid(store: RedisSessionStore) -> None:
    store.apply(
        SessionChanges(
            session_id="s",
            metadata=SessionMetadata(properties={"p": 1}),
            state={"k": 1},
            events=[_event(id="e1")],
            runs=[SessionRun(id="r1")],
        )
    )


CORRUPTIONS = {
    "event not json": lambda r, k: r.rpush(k.events, b"{not json"),
    "event invalid utf-8": lambda r, k: r.rpush(k.events, b'{"id": "\xff\xfe"}'),
    "event wrong shape": lambda r, k: r.rpush(k.events, b'{"id": 1, "timestamp": "yesterday"}'),
    "empty event": lambda r, k: r.rpush(k.events, b""),
    "run not json": lambda r, k: r.rpush(k.runs, b"]"),
    "property not json": lambda r, k: r.hset(k.props, "p", b"{"),
    "state not json": lambda r, k: r.hset(k.state, "k", b"nan?"),
    "no created_at": lambda r, k: r.hdel(k.meta, "created_at"),
    "bad created_at": lambda r, k: r.hset(k.meta, "created_at", "not a date"),
    "events wrong type": lambda r, k: (r.delete(k.events), r.set(k.events, b"x")),
    "meta wrong type": lambda r, k: (r.delete(k.meta), r.sadd(k.meta, b"x")),
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=str)
def test_corrupt_data_raises_session_corrupted(
    store: RedisSessionStore, raw: redis.Redis, corrupt: str
) -> None:
    _write_valid(store)
    CORRUPTIONS[corrupt](raw, session_keys("session:", "s"))
    with pytest.raises(SessionCorruptedError) as info:
        store.get("s")
    assert info.value.__cause__ is not None


def test_stale_event_index_raises_session_corrupted_on_write(
    store: RedisSessionStore, raw: redis.Redis
) -> None:
    _write_valid(store)
    raw.hset(session_keys("session:", "s").evidx, "e1", 99)
    with pytest.raises(SessionCorruptedError):
        store.apply(SessionChanges(session_id="s", events=[_event(id="e1")]))


def test_close_closes_only_an_owned_client(redis_server: RedisServer, raw: redis.Redis) -> None:
    borrowed = create_redis_session_store(client=raw)
    borrowed.apply(SessionChanges(session_id="s"))
    borrowed.close()
    assert raw.ping()
    with create_redis_session_store(host="127.0.0.1", port=redis_server.port) as owned:
        assert owned.exists("s")


def test_package_imports_without_redis_py() -> None:
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "import a2a_session_manager, a2a_session_manager.storage as st\n"
        "try:\n"
        "    st.create_redis_session_store()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "pip install a2a-session-manager[redis]" in out.stdout
