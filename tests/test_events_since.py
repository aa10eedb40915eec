"""Incremental reads (``events_since``): every store returns exactly the
events stored after a position, keeps positions across replacements in
place, starts over for a session deleted and written again, and loses or
doubles nothing while another writer appends."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.storage import (
    BaseSessionStore,
    EventPosition,
    IncrementalEventReader,
    InMemorySessionStore,
    SessionChanges,
    create_store,
)
from a2a_session_manager.storage.positions import START

STORES = ["memory", "file", "redis", "cluster", "get-only"]


class GetOnlyStore(BaseSessionStore):
    """A custom store with ``get`` and ``apply`` only: ``BaseSessionStore``'s
    ``events_since`` reads it whole and slices."""

    def __init__(self) -> None:
        self.inner = InMemorySessionStore()

    def apply(self, changes: SessionChanges) -> None:
        self.inner.apply(changes)

    def get(self, session_id: str) -> Session | None:
        return self.inner.get(session_id)

    def delete(self, session_id: str) -> None:
        self.inner.delete(session_id)


def _make(kind: str, request: pytest.FixtureRequest, directory: Path) -> Any:
    if kind == "memory":
        return InMemorySessionStore()
    if kind == "get-only":
        return GetOnlyStore()
    if kind == "file":
        return create_store(f"file://{directory}")
    if kind == "redis":
        return create_store(request.getfixturevalue("redis_url"))
    cluster = request.getfixturevalue("redis_cluster")
    cluster.wait_healthy()
    cluster.flush()
    return create_store(cluster.url)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    made = _make(request.param, request, tmp_path / "sessions")
    yield made
    made.close()


def _event(event_id: str, text: str = "") -> SessionEvent:
    return SessionEvent(id=event_id, message=text or event_id)


def _append(store: Any, session_id: str, *ids: str) -> None:
    store.apply(SessionChanges(session_id, events=[_event(i) for i in ids]))


def _ids(events: list[SessionEvent]) -> list[str]:
    return [e.id for e in events]


def test_every_store_reads_incrementally(store: Any) -> None:
    assert isinstance(store, IncrementalEventReader)


def test_only_the_events_appended_after_the_position_are_returned(store: Any) -> None:
    assert store.events_since("nobody", START).events == []
    _append(store, "s", "e1", "e2", "e3")
    first = store.events_since("s", START)
    assert _ids(first.events) == ["e1", "e2", "e3"]
    assert store.events_since("s", first.position).events == []  # nothing new

    _append(store, "s", "e4")
    _append(store, "s", "e5", "e6")
    second = store.events_since("s", first.position)
    assert _ids(second.events) == ["e4", "e5", "e6"]
    assert [e.message for e in second.events] == ["e4", "e5", "e6"]
    assert store.events_since("s", second.position).events == []
    # A position can be read from again: the same events come back.
    assert _ids(store.events_since("s", first.position).events) == ["e4", "e5", "e6"]


def test_an_event_replaced_in_place_keeps_its_position(store: Any) -> None:
    _append(store, "s", "e1", "e2")
    read = store.events_since("s", START)
    _append(store, "s", "e3", "e4")
    store.apply(SessionChanges("s", events=[_event("e3", "e3 replaced")]))  # after the position
    store.apply(SessionChanges("s", events=[_event("e1", "e1 replaced")]))  # before it
    _append(store, "s", "e5")

    new = store.events_since("s", read.position)
    by_id = {e.id: e.message for e in new.events}
    # Exactly the events first appended since, once each, in order, as they are now.
    assert [i for i in _ids(new.events) if i != "e1"] == ["e3", "e4", "e5"]
    assert by_id["e3"] == "e3 replaced"
    # e1 keeps its place before the position; a store whose log records the
    # replacement as a new line (the file store) returns its new value.
    assert by_id.get("e1", "e1 replaced") == "e1 replaced"
    assert len(new.events) == len(set(_ids(new.events)))

    _append(store, "s", "e6")
    assert _ids(store.events_since("s", new.position).events) == ["e6"]
    session = store.get("s")
    assert _ids(session.events) == ["e1", "e2", "e3", "e4", "e5", "e6"]


@pytest.mark.parametrize("recreated", [["f1"], ["f1", "f2", "f3", "f4", "f5", "f6"]])
def test_a_session_deleted_and_written_again_is_read_from_its_start(
    store: Any, recreated: list[str]
) -> None:
    """Shorter or longer than before: the old position is never trusted."""
    _append(store, "s", "e1", "e2", "e3")
    read = store.events_since("s", START)
    store.delete("s")
    assert store.events_since("s", read.position).events == []
    _append(store, "s", *recreated)
    again = store.events_since("s", read.position)
    assert _ids(again.events) == recreated
    _append(store, "s", "g1")
    assert _ids(store.events_since("s", again.position).events) == ["g1"]


def test_nothing_is_lost_or_doubled_while_another_writer_appends(
    store: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # The writer has a store object of its own, as another process would
    # (the memory store and the get-only store can only share theirs).
    kind = request.node.callspec.params["store"]
    shared = kind in ("memory", "get-only")
    writer = store if shared else _make(kind, request, tmp_path / "sessions")
    written = [f"w{n}" for n in range(300)]

    def write() -> None:
        for start in range(0, len(written), 3):
            _append(writer, "busy", *written[start : start + 3])

    thread = threading.Thread(target=write)
    thread.start()
    seen: list[str] = []
    position = START
    reads = 0
    while thread.is_alive() or reads == 0:
        new = store.events_since("busy", position)
        seen += _ids(new.events)
        position = new.position
        reads += 1
    thread.join()
    seen += _ids(store.events_since("busy", position).events)
    assert seen == written
    if writer is not store:
        writer.close()


def test_the_file_store_leaves_an_unfinished_line_for_the_next_read(tmp_path: Path) -> None:
    store = create_store(f"file://{tmp_path}")
    _append(store, "s", "e1")
    read = store.events_since("s", START)
    (log,) = [p for p in os.listdir(tmp_path) if not p.startswith(".")]
    with open(tmp_path / log, "ab") as f:
        f.write(b'{"e":{"id":"torn"')  # a writer killed mid-line
    assert store.events_since("s", read.position).events == []
    _append(store, "s", "e2")  # the next writer cuts the torn line off
    assert _ids(store.events_since("s", read.position).events) == ["e2"]


def test_a_position_from_another_session_reads_from_the_start(store: Any) -> None:
    _append(store, "a", "a1", "a2", "a3")
    _append(store, "b", "b1")
    elsewhere = store.events_since("a", START).position
    assert _ids(store.events_since("b", elsewhere).events) == ["b1"]
    assert isinstance(elsewhere, EventPosition)
