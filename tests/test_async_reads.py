"""Async reads on every store: ``aget``, ``aexists``, ``alist_sessions``,
``aquery``, ``achildren`` and the async prompt builder, from many tasks at
once while another thread keeps appending."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.prompts import abuild_prompt_from_session, build_prompt_from_session
from a2a_session_manager.storage import (
    AsyncSessionReader,
    InMemorySessionStore,
    RedisSessionStore,
    SessionChanges,
    SessionNotFoundError,
    create_store,
)


@pytest.fixture(params=["memory", "file", "redis", "cluster"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
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


async def test_a_hundred_tasks_read_while_a_writer_appends(store: Any) -> None:
    assert isinstance(store, AsyncSessionReader)
    store.apply(
        SessionChanges(
            session_id="busy",
            metadata=SessionMetadata(properties={"user": "ann"}),
            events=[SessionEvent(id="e0", message="0", source=EventSource.USER)],
        )
    )
    store.apply(SessionChanges(session_id="kid", parent_id="busy"))
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        n = 1
        while not stop.is_set() and n < 400:
            store.apply(
                SessionChanges(session_id="busy", events=[SessionEvent(id=f"e{n}", message=str(n))])
            )
            written.append(n)
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:

        async def reader(k: int) -> list[int]:
            seen = []
            for _ in range(5):
                session = await store.aget("busy")
                assert session is not None
                messages = [int(e.message) for e in session.events]
                assert messages == list(range(len(messages)))  # a prefix, in order
                seen.append(len(messages))
                assert await store.aexists("busy")
                assert await store.alist_sessions() == ["busy", "kid"]
                assert await store.achildren("busy") == ["kid"]
                page = await store.aquery(user="ann", limit=1)
                assert [s.id for s in page.items] == ["busy"]
            return seen

        results = await asyncio.gather(*(reader(k) for k in range(100)))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    for seen in results:
        assert seen == sorted(seen)  # one task never sees the session shrink
    final = await store.aget("busy")
    assert len(final.events) == len(written) + 1
    assert await store.aget("missing") is None
    assert not await store.aexists("missing")
    assert (await store.alist_page(limit=1)).next_cursor is not None


async def test_redis_async_reads_use_the_asyncio_client(redis_url: str) -> None:
    store = create_store(redis_url)
    assert isinstance(store, RedisSessionStore)
    store.apply(SessionChanges(session_id="s", events=[SessionEvent(message="hi")]))
    session = await store.aget("s")
    assert session is not None and session.events[0].message == "hi"
    clients = list(store._async_clients.values())
    assert len(clients) == 1 and type(clients[0]).__module__.startswith("redis.asyncio")
    store.close()


async def test_async_prompt_builder_reads_through_aget(store: Any) -> None:
    store.apply(
        SessionChanges(
            session_id="s",
            events=[
                SessionEvent(message="Plan a trip", source=EventSource.USER),
                SessionEvent(message="Paris it is.", source=EventSource.LLM),
            ],
        )
    )
    built = await abuild_prompt_from_session("s", store=store, current_query="And then?")
    assert built == build_prompt_from_session(store.get("s"), current_query="And then?")
    assert built[-1] == {"role": "user", "content": "And then?"}
    with pytest.raises(SessionNotFoundError):
        await abuild_prompt_from_session("missing", store=store)
