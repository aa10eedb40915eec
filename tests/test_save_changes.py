"""``save()`` writes what changed, not copies: two writers that loaded the same
session keep each other's changes, in every store (the file store with two
store objects on one directory, Redis with two clients of a real server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.storage import (
    EventOrderError,
    FileSessionStore,
    InMemorySessionStore,
    SessionStore,
    create_store,
)

Writers = tuple[SessionStore, SessionStore]


@pytest.fixture(params=["memory", "file", "redis"])
def writers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Writers]:
    if request.param == "memory":
        memory = InMemorySessionStore()
        yield memory, memory
        return
    if request.param == "file":
        yield FileSessionStore(tmp_path), FileSessionStore(tmp_path)
        return
    url = request.getfixturevalue("redis_url")
    first, second = create_store(url), create_store(url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def seeded(store: SessionStore) -> None:
    session = Session(id="shared", state={"x": 1, "y": 1, "gone": "soon"})
    session.metadata.properties.update({"user": "u1", "plan": "free", "tmp": True})
    session.add_event(SessionEvent(id="e1", message="first"))
    store.save(session)


def load(store: SessionStore) -> Session:
    session = store.get("shared")
    assert session is not None
    return session


def test_writers_of_different_keys_both_survive(writers: Writers) -> None:
    first, second = writers
    seeded(first)
    a, b = load(first), load(second)

    b.state["x"] = "from b"
    b.metadata.set_property("plan", "pro")
    second.save(b)
    a.state["y"] = "from a"  # an unrelated change, saved after b's
    a.metadata.set_property("user", "u2")
    first.save(a)

    final = load(first)
    assert final.state == {"x": "from b", "y": "from a", "gone": "soon"}
    assert final.metadata.properties == {"user": "u2", "plan": "pro", "tmp": True}


def test_on_the_same_key_the_last_writer_wins(writers: Writers) -> None:
    first, second = writers
    seeded(first)
    a, b = load(first), load(second)
    b.state["x"] = "b"
    b.metadata.properties["plan"] = "b"
    second.save(b)
    a.state["x"] = "a"
    a.metadata.properties["plan"] = "a"
    first.save(a)
    final = load(second)
    assert final.state["x"] == "a"
    assert final.metadata.properties["plan"] == "a"


def test_deleted_keys_are_deleted_and_stay_deleted(writers: Writers) -> None:
    first, second = writers
    seeded(first)
    a, b = load(first), load(second)
    del b.state["gone"]
    del b.metadata.properties["tmp"]
    second.save(b)
    a.state["y"] = 2  # a still holds its stale copy of "gone" and "tmp"
    first.save(a)

    final = load(first)
    assert final.state == {"x": 1, "y": 2}
    assert final.metadata.properties == {"user": "u1", "plan": "free"}
    # Set again after the deletion: back, in every store's log order.
    final.state["gone"] = "back"
    first.save(final)
    assert load(second).state["gone"] == "back"


def test_a_value_changed_in_place_is_saved(writers: Writers) -> None:
    first, second = writers
    seeded(first)
    a = load(first)
    a.state["items"] = [1]
    first.save(a)
    a = load(first)
    a.state["items"].append(2)
    a.metadata.properties["user"] = "u1"  # the same value: not a change
    b = load(second)
    b.metadata.properties["user"] = "b"
    second.save(b)
    first.save(a)
    final = load(second)
    assert final.state["items"] == [1, 2]
    assert final.metadata.properties["user"] == "b"


def test_a_stale_writer_does_not_reset_the_parent(writers: Writers) -> None:
    first, second = writers
    seeded(first)
    a, b = load(first), load(second)
    b.parent_id = "new-parent"
    second.save(b)
    a.state["y"] = 3
    first.save(a)
    assert load(first).parent_id == "new-parent"
    assert "shared" in first.children("new-parent")


def test_an_event_inserted_before_stored_ones_is_refused(writers: Writers) -> None:
    first, second = writers
    seeded(first)
    a = load(first)
    a.add_event(SessionEvent(id="e2", message="second"))
    first.save(a)

    a.events.insert(0, SessionEvent(id="early", message="too early"))
    a.state["x"] = "not written either"
    with pytest.raises(EventOrderError, match="'early' was inserted before"):
        first.save(a)
    assert [e.id for e in load(second).events] == ["e1", "e2"]
    assert load(second).state["x"] == 1  # nothing of the refused save was written

    del a.events[0]
    a.events.insert(1, SessionEvent(id="middle"))  # between stored events: refused too
    with pytest.raises(EventOrderError, match="'middle'"):
        first.save(a)


def test_events_dropped_from_the_object_stay_stored_and_appends_still_save(
    writers: Writers,
) -> None:
    first, second = writers
    seeded(first)
    a = load(first)
    a.events.clear()  # a trimmed view: stores never delete events
    a.add_event(SessionEvent(id="e3", message="later"))
    first.save(a)
    assert [e.id for e in load(second).events] == ["e1", "e3"]


def test_many_saves_of_one_object_write_each_change_once(writers: Writers) -> None:
    first, second = writers
    seeded(first)
    a = load(first)
    for i in range(5):
        a.add_event(SessionEvent(id=f"n{i}"))
        a.state["counter"] = i
        first.save(a)
        first.save(a)  # nothing new: writes nothing
    b = load(second)
    assert [e.id for e in b.events] == ["e1", "n0", "n1", "n2", "n3", "n4"]
    assert b.state["counter"] == 4
    b.events.insert(3, SessionEvent(id="late"))  # still seen after incremental bookkeeping
    with pytest.raises(EventOrderError):
        second.save(b)


def test_memory_store_values_are_not_shared_with_loaded_objects() -> None:
    import threading

    store = InMemorySessionStore()
    session = Session(id="m", state={"items": [1]})
    session.metadata.properties["lock"] = threading.Lock()  # cannot be copied: shared as is
    store.save(session)
    session.state["items"].append("unsaved")
    loaded = store.get("m")
    assert loaded is not None and loaded.state["items"] == [1]
    loaded.state["items"].append("unsaved either")
    assert store.get("m").state["items"] == [1]  # type: ignore[union-attr]
