"""Paged listing and queries on every store (memory, file, Redis), checked
against a brute-force filter over the sessions themselves."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.session_run import SessionRun
from a2a_session_manager.models.token_usage import TokenUsage
from a2a_session_manager.storage import (
    BaseSessionStore,
    FileSessionStore,
    InMemorySessionStore,
    SessionChanges,
    _file_index,
    create_store,
)
from a2a_session_manager.storage._redis_keys import session_keys
from a2a_session_manager.storage.query import (
    InvalidCursorError,
    SessionQuery,
    SessionSummary,
    matches,
    summary_of,
    time_key,
)

T0 = datetime(2025, 5, 1, tzinfo=UTC)
STORES = ["memory", "file", "redis", "cluster"]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseSessionStore]:
    kind = request.param
    if kind == "memory":
        made: Any = InMemorySessionStore()
    elif kind == "file":
        made = create_store(f"file://{tmp_path / 'sessions'}")
    elif kind == "redis":
        made = create_store(request.getfixturevalue("redis_url"))
    else:
        cluster = request.getfixturevalue("redis_cluster")
        cluster.wait_healthy()
        cluster.flush()
        made = create_store(cluster.url)
    yield made
    made.close()


def _usage(tokens: int, cost: float) -> TokenUsage:
    return TokenUsage(prompt_tokens=tokens, total_tokens=tokens, estimated_cost_usd=cost)


def _populate(store: BaseSessionStore, count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    ids = []
    for n in range(count):
        session_id = f"{rng.choice(['app', 'job', 'é'])}-{n:04d}"
        ids.append(session_id)
        properties: dict[str, Any] = {"user": f"u{rng.randrange(5)}"}
        if rng.random() < 0.5:
            properties["tier"] = rng.choice(["gold", "free", 3, True])
        events = [
            SessionEvent(
                message={"error": {"message": "boom"}} if rng.random() < 0.1 else "hi",
                token_usage=_usage(rng.randrange(1, 500), rng.randrange(0, 50) / 1000)
                if rng.random() < 0.7
                else None,
            )
            for _ in range(rng.randrange(0, 4))
        ]
        runs = [SessionRun()]
        if rng.random() < 0.1:
            runs[0].mark_failed("bad")
        store.apply(
            SessionChanges(
                session_id=session_id,
                parent_id=rng.choice(ids[:-1]) if len(ids) > 1 and rng.random() < 0.2 else None,
                metadata=SessionMetadata(
                    created_at=T0 + timedelta(minutes=n),
                    updated_at=T0 + timedelta(minutes=n + rng.randrange(0, 300)),
                    properties=properties,
                ),
                events=events,
                runs=runs,
            )
        )
    return ids


def _all_pages(store: BaseSessionStore, size: int, prefix: str = "") -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_page(prefix, limit=size, cursor=cursor)
        assert len(page.items) <= size
        seen += page.items
        if page.next_cursor is None:
            return seen
        assert len(page.items) == size
        cursor = page.next_cursor


def _brute_force(store: BaseSessionStore, query: SessionQuery) -> list[str]:
    summaries = []
    for session_id in store.list_sessions():
        session = store.get(session_id)
        assert session is not None
        summaries.append(summary_of(session))
    found = [s for s in summaries if matches(s, query)]
    found.sort(key=lambda s: (time_key(s.updated_at), s.id), reverse=True)
    return [s.id for s in found]


def _query_pages(store: BaseSessionStore, query: SessionQuery, size: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = store.query(query, limit=size, cursor=cursor)
        seen += [s.id for s in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


# -- listing ----------------------------------------------------------------------


def test_pages_cover_every_id_once_in_code_point_order(store: BaseSessionStore) -> None:
    ids = _populate(store, 300)
    for session_id in ("a", "a\x00b", "z" * 300, "{brace}", "日本"):
        store.apply(SessionChanges(session_id=session_id))
        ids.append(session_id)
    assert store.list_sessions() == sorted(ids)
    for size in (1, 7, 100, 1000):
        assert _all_pages(store, size) == sorted(ids)
    assert _all_pages(store, 9, "app") == sorted(i for i in ids if i.startswith("app"))
    assert store.list_sessions("é-") == sorted(i for i in ids if i.startswith("é-"))
    assert store.list_page("nothing", limit=5).items == []


def test_pages_stay_put_when_sessions_are_added_meanwhile(store: BaseSessionStore) -> None:
    for n in range(20):
        store.apply(SessionChanges(session_id=f"s{n:02d}"))
    first = store.list_page(limit=10)
    assert first.items == [f"s{n:02d}" for n in range(10)]
    store.apply(SessionChanges(session_id="s00a"))  # lands before the cursor
    store.apply(SessionChanges(session_id="s15a"))  # lands after it
    rest = store.list_page(limit=100, cursor=first.next_cursor)
    assert rest.items == [f"s{n:02d}" for n in range(10, 16)] + ["s15a"] + [
        f"s{n:02d}" for n in range(16, 20)
    ]
    assert rest.next_cursor is None


def test_a_cursor_from_elsewhere_is_refused(store: BaseSessionStore) -> None:
    store.apply(SessionChanges(session_id="s"))
    for cursor in ("garbage", "W10", store.query(limit=1).next_cursor or "eyJ4Ijox"):
        with pytest.raises(InvalidCursorError):
            store.list_page(limit=1, cursor=cursor)
    with pytest.raises(ValueError):
        store.list_page(limit=0)


def test_deleted_sessions_leave_listing_and_queries(store: BaseSessionStore) -> None:
    store.apply(SessionChanges(session_id="p", metadata=SessionMetadata(properties={"user": "a"})))
    store.apply(
        SessionChanges(
            session_id="c", parent_id="p", metadata=SessionMetadata(properties={"user": "a"})
        )
    )
    store.delete("c")
    assert store.list_sessions() == ["p"]
    assert [s.id for s in store.query(user="a").items] == ["p"]
    assert store.query(parent_id="p").items == []
    assert store.summary("c") is None


# -- queries ----------------------------------------------------------------------

QUERIES = [
    SessionQuery(),
    SessionQuery(user="u1"),
    SessionQuery(user="u2", properties={"tier": "gold"}),
    SessionQuery(properties={"tier": 3}),
    SessionQuery(properties={"tier": True}),
    SessionQuery(has_errors=True),
    SessionQuery(has_errors=False, user="u0"),
    SessionQuery(min_cost=0.03),
    SessionQuery(max_cost=0.0),
    SessionQuery(min_tokens=400, max_tokens=900),
    SessionQuery(since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=4)),
    SessionQuery(until=T0 + timedelta(hours=1), user="u3"),
    SessionQuery(since=T0 + timedelta(hours=3), has_errors=True, min_cost=0.01),
    SessionQuery(parent_id="app-0003"),
    SessionQuery(user="nobody"),
]


def test_queries_match_a_brute_force_filter(store: BaseSessionStore) -> None:
    ids = _populate(store, 250)
    parents = {s.parent_id for s in map(store.summary, ids) if s and s.parent_id}
    queries = [*QUERIES, *(SessionQuery(parent_id=p) for p in sorted(parents)[:3])]
    for query in queries:
        expected = _brute_force(store, query)
        assert [s.id for s in store.query(query).items] == expected, query
        assert _query_pages(store, query, 7) == expected, query
    assert [s.id for s in store.query(user="u1", has_errors=True).items] == _brute_force(
        store, SessionQuery(user="u1", has_errors=True)
    )


def test_summary_follows_writes(store: BaseSessionStore) -> None:
    store.apply(SessionChanges(session_id="s", metadata=SessionMetadata(properties={"user": "a"})))
    event = SessionEvent(id="e1", message="hi", token_usage=_usage(100, 0.5))
    store.apply(SessionChanges(session_id="s", events=[event]))
    store.apply(
        SessionChanges(
            session_id="s",
            events=[SessionEvent(message={"error": "rate limited"}, token_usage=_usage(5, 0.25))],
            metadata=SessionMetadata(updated_at=T0 + timedelta(days=3650), properties={"k": 1}),
            removed_properties=["user"],
        )
    )
    summary = store.summary("s")
    assert isinstance(summary, SessionSummary)
    assert (summary.events, summary.total_tokens, summary.cost_usd) == (2, 105, 0.75)
    assert summary.has_errors
    assert dict(summary.properties) == {"k": 1}
    assert summary.updated_at == T0 + timedelta(days=3650)
    assert store.query(user="a").items == []
    assert [s.id for s in store.query(properties={"k": 1}).items] == ["s"]
    session = store.get("s")
    assert session is not None and summary_of(session) == summary


@pytest.mark.parametrize("kind", ["memory", "file", "redis"])
def test_an_event_written_again_counts_once(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store: Any = (
        InMemorySessionStore()
        if kind == "memory"
        else FileSessionStore(tmp_path)
        if kind == "file"
        else create_store(request.getfixturevalue("redis_url"))
    )
    event = SessionEvent(id="e1", message="hi", token_usage=_usage(100, 0.5))
    store.apply(SessionChanges(session_id="s", events=[event]))
    store.apply(SessionChanges(session_id="s", events=[event]))  # a replayed batch
    replaced = SessionEvent(id="e1", message="hi", token_usage=_usage(40, 0.125))
    store.apply(SessionChanges(session_id="s", events=[replaced]))
    summary = store.summary("s")
    assert (summary.events, summary.total_tokens, summary.cost_usd) == (1, 40, 0.125)
    store.close()


def test_one_hundred_thousand_sessions_page_and_query_in_memory() -> None:
    store = InMemorySessionStore()
    for n in range(100_000):
        store.apply(
            SessionChanges(
                session_id=f"s{n:06d}",
                metadata=SessionMetadata(
                    created_at=T0,
                    updated_at=T0 + timedelta(seconds=n),
                    properties={"user": f"u{n % 1000}"},
                ),
            )
        )
    assert _all_pages(store, 1000) == [f"s{n:06d}" for n in range(100_000)]
    page = store.query(user="u7", limit=10)
    assert [s.id for s in page.items] == [f"s{n:06d}" for n in range(99_007, 90_000, -1000)]
    assert _query_pages(store, SessionQuery(user="u7"), 33) == [
        f"s{n:06d}" for n in range(99_007, -1, -1000)
    ]


# -- store specifics ------------------------------------------------------------------


def test_file_index_counts_a_replayed_batch_once_for_every_reader(tmp_path: Path) -> None:
    writer, reader = FileSessionStore(tmp_path), FileSessionStore(tmp_path)
    batch = [
        SessionEvent(id=f"e{n}", message="m", token_usage=_usage(10, 0.25)) for n in range(3)
    ]
    writer.apply(SessionChanges(session_id="s", events=batch))
    other = SessionEvent(id="x", message="from another writer", token_usage=_usage(1, 0.0))
    reader.apply(SessionChanges(session_id="s", events=[other]))
    writer.apply(SessionChanges(session_id="s", events=batch[1:]))  # replayed after a timeout
    summary = reader.summary("s")
    assert summary is not None
    assert (summary.events, summary.total_tokens, summary.cost_usd) == (4, 31, 0.75)
    session = reader.get("s")
    assert session is not None and summary_of(session) == summary
    writer.delete("s")
    writer.apply(SessionChanges(session_id="s", events=batch[:1]))  # a new log: counted anew
    summary = reader.summary("s")
    assert summary is not None and (summary.events, summary.total_tokens) == (1, 10)


def test_file_index_is_built_from_logs_written_before_it(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    _populate(store, 40)
    (tmp_path / ".index.jsonl").unlink()
    fresh = FileSessionStore(tmp_path)
    assert _all_pages(fresh, 6) == sorted(store.list_sessions())
    assert [s.id for s in fresh.query(user="u1").items] == _brute_force(
        fresh, SessionQuery(user="u1")
    )


def test_a_process_that_only_writes_keeps_the_file_index_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_file_index, "_COMPACT_MIN_LINES", 20)
    monkeypatch.setattr(_file_index, "_CHECK_BYTES", 2000)
    writer = FileSessionStore(tmp_path)
    for n in range(500):
        writer.apply(SessionChanges(session_id=f"s{n % 3}", events=[SessionEvent(message="x")]))
    lines = (tmp_path / ".index.jsonl").read_bytes().count(b"\n")
    assert lines < 100  # not one line per write: compacted along the way
    assert FileSessionStore(tmp_path).summary("s0").events == 167  # type: ignore[union-attr]


def test_file_index_sees_other_writers_and_compacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_file_index, "_COMPACT_MIN_LINES", 50)
    reader = FileSessionStore(tmp_path)
    writer = FileSessionStore(tmp_path)
    assert reader.query().items == []
    for n in range(60):
        writer.apply(
            SessionChanges(
                session_id="busy",
                events=[SessionEvent(message=str(n), token_usage=_usage(1, 0.0))],
            )
        )
    writer.apply(SessionChanges(session_id="other"))
    assert reader.summary("busy") is not None
    assert reader.summary("busy").total_tokens == 60  # type: ignore[union-attr]
    lines = (tmp_path / ".index.jsonl").read_bytes().count(b"\n")
    assert lines == 2  # compacted: one line per session
    writer.apply(SessionChanges(session_id="busy", events=[SessionEvent(message="after")]))
    assert FileSessionStore(tmp_path).summary("busy").events == 61  # type: ignore[union-attr]
    assert reader.summary("busy").events == 61  # type: ignore[union-attr]


def test_redis_listing_drops_expired_sessions_from_the_index(redis_url: str) -> None:
    store: Any = create_store(redis_url)
    for session_id in ("a", "b", "c"):
        store.apply(SessionChanges(session_id=session_id))
    raw = redis.Redis.from_url(redis_url)
    raw.delete(*session_keys("session:", "b"))  # as if its TTL ran out
    assert store.list_sessions() == ["a", "c"]
    assert [s.id for s in store.query().items] == ["c", "a"]
    assert not any(b"b" in raw.zrange(k, 0, -1) for k in raw.scan_iter(match="session:{~index:*"))
    store.close()


def test_a_store_that_only_lists_gets_pages_and_queries() -> None:
    class Minimal(BaseSessionStore):
        def __init__(self) -> None:
            self.inner = InMemorySessionStore()

        def apply(self, changes: SessionChanges) -> None:
            self.inner.apply(changes)

        def get(self, session_id: str) -> Any:
            return self.inner.get(session_id)

        def list_sessions(self, prefix: str = "") -> list[str]:  # type: ignore[override]
            return self.inner.list_sessions(prefix)

    store = Minimal()
    _populate(store, 30)
    assert _all_pages(store, 4) == store.list_sessions()
    assert [s.id for s in store.query(user="u2").items] == _brute_force(
        store, SessionQuery(user="u2")
    )


def test_sessions_of_an_earlier_versions_redis_index_are_listed(redis_url: str) -> None:
    store: Any = create_store(redis_url)
    for session_id in ("old-1", "old-2"):
        store.apply(
            SessionChanges(
                session_id=session_id,
                metadata=SessionMetadata(properties={"user": "ann"}),
                events=[SessionEvent(message="hi"), SessionEvent(message="again")],
            )
        )
    store.close()
    raw = redis.Redis.from_url(redis_url)
    # What an earlier version left: one sorted set, no shards, no event count.
    for key in raw.scan_iter(match="session:{~index:*"):
        raw.delete(key)
    raw.hdel(session_keys("session:", "old-1").meta, "n_events")
    raw.zadd("session:index", {"old-1": 1, "old-2": 2, "gone": 3})

    upgraded: Any = create_store(redis_url)
    assert upgraded.list_sessions() == ["old-1", "old-2"]
    assert [s.id for s in upgraded.query(user="ann").items] == ["old-2", "old-1"]
    assert upgraded.summary("old-1").events == 2
    assert not raw.exists("session:index")
    upgraded.close()
