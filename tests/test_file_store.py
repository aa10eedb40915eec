"""The file store, on real files: semantics mirrored from the memory store,
the log format's crash rules, hostile ids, and backend errors."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.session_run import RunStatus, SessionRun
from a2a_session_manager.models.token_usage import TokenSummary, TokenUsage
from a2a_session_manager.storage import (
    InMemorySessionStore,
    InvalidSessionIdError,
    SessionCorruptedError,
    SessionStoreProvider,
    StoreUnavailableError,
    create_store,
)
from a2a_session_manager.storage._file_names import log_name
from a2a_session_manager.storage.changes import SessionChanges
from a2a_session_manager.storage.file import FileSessionStore, create_file_session_store


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "sessions"


@pytest.fixture
def store(directory: Path) -> FileSessionStore:
    return FileSessionStore(directory)


def log_path(directory: Path, session_id: str) -> Path:
    return directory / log_name(session_id)


def event_lines(directory: Path, session_id: str) -> int:
    lines = log_path(directory, session_id).read_bytes().splitlines()
    return sum(1 for line in lines if line.startswith(b'{"e":'))


def rich_session() -> Session:
    session = Session(
        id="rich-1",
        metadata=SessionMetadata(
            created_at=datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC),
            properties={"user": "Zoë 🙂", "nested": {"a": [1, 2.5, None, {"b": True}]}},
        ),
        state={"counter": 3, "when": "2024-01-01", "deep": {"x": [[], {}]}},
    )
    run = SessionRun(name="planner", metadata={"k": ["v"]})
    run.mark_completed()
    session.runs.append(run)
    session.add_event(SessionEvent(message="héllo wörld ✓ 日本語", source=EventSource.USER))
    session.add_event(
        SessionEvent.create_with_tokens(
            message={"content": "reply", "tool_calls": [{"name": "f", "args": {"x": 1}}]},
            prompt="héllo wörld",
            completion="reply",
            model="gpt-4o-mini",
            task_id=run.id,
            metadata={"when": datetime(2020, 1, 1, tzinfo=UTC).isoformat(), "list": [1, "2"]},
        )
    )
    session.add_event(SessionEvent(message=["a", 1, None], type="my_custom_type"))
    session.add_event(SessionEvent(message="summary", type=EventType.SUMMARY))
    return session


# -- the seed API and round trips ------------------------------------------------


def test_readme_snippet_file_store(tmp_path: Path) -> None:
    directory = tmp_path / "sessions"
    store = create_file_session_store(directory=str(directory))
    SessionStoreProvider.set_store(store)

    session = Session()
    session.add_event(SessionEvent(message="Hello", source=EventSource.USER))
    SessionStoreProvider.get_store().save(session)

    loaded = create_file_session_store(directory=str(directory)).get(session.id)
    assert loaded is not None
    assert [e.message for e in loaded.events] == ["Hello"]
    assert directory.is_dir()


def test_round_trip_is_lossless_from_a_new_store(directory: Path) -> None:
    session = rich_session()
    FileSessionStore(directory).save(session)

    loaded = FileSessionStore(directory).get(session.id)

    assert loaded is not None
    assert loaded.model_dump() == session.model_dump()
    assert loaded.events[2].type == "my_custom_type"
    assert loaded.events[3].type is EventType.SUMMARY
    assert loaded.token_summary.total_tokens == session.token_summary.total_tokens > 0


def test_five_megabyte_message_round_trips(store: FileSessionStore, directory: Path) -> None:
    big = "ß" * (5 * 1024 * 1024 // 2) + "end"
    store.apply(SessionChanges("big", events=[SessionEvent(id="e", message=big)]))
    loaded = FileSessionStore(directory).get("big")
    assert loaded is not None
    assert loaded.events[0].message == big


def test_non_json_values_are_stored_as_repr(store: FileSessionStore, directory: Path) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque thing>"

    session = Session(id="odd", metadata=SessionMetadata(properties={"obj": Opaque()}))
    session.state["raw"] = b"\xff\xfebytes"
    session.add_event(SessionEvent(message={"obj": Opaque(), "set": {1}, "lone": "\ud800"}))
    store.save(session)

    loaded = FileSessionStore(directory).get("odd")
    assert loaded is not None
    assert loaded.metadata.properties["obj"] == "<Opaque thing>"
    assert loaded.events[0].message["obj"] == "<Opaque thing>"
    assert loaded.events[0].message["set"] == [1]
    assert isinstance(loaded.state["raw"], str)


def test_get_of_missing_session(store: FileSessionStore) -> None:
    assert store.get("nope") is None
    assert not store.exists("nope")
    assert store.children("nope") == []
    assert store.list_sessions() == []


def test_invalid_ids(store: FileSessionStore) -> None:
    for bad in ("", "\ud800", 42):
        with pytest.raises(InvalidSessionIdError):
            store.apply(SessionChanges(bad))  # type: ignore[arg-type]
        assert store.get(bad) is None  # type: ignore[arg-type]
        assert not store.exists(bad)  # type: ignore[arg-type]
        store.delete(bad)  # type: ignore[arg-type]


# -- the same semantics as the memory store --------------------------------------


def _changes_script() -> list[SessionChanges]:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    usage = TokenUsage(prompt_tokens=7, completion_tokens=3, model="gpt-4o-mini")
    run = SessionRun(id="r1", name="a")
    done = run.model_copy(update={"status": RunStatus.COMPLETED, "ended_at": t0})
    return [
        SessionChanges(
            "child",
            parent_id="parent",
            metadata=SessionMetadata(created_at=t0, updated_at=t0, properties={"a": 1, "b": 1}),
            state={"x": 1},
            events=[SessionEvent(id="e1", message="one", token_usage=usage, timestamp=t0)],
            runs=[run],
        ),
        SessionChanges(
            "child",
            metadata=SessionMetadata(
                created_at=t0 + timedelta(days=1),
                updated_at=t0 + timedelta(days=2),
                properties={"b": 2},
            ),
            state={"y": 2},
            events=[
                SessionEvent(id="e2", message="two", timestamp=t0),
                SessionEvent(id="e1", message="one, edited", token_usage=usage, timestamp=t0),
            ],
            runs=[done, SessionRun(id="r2", started_at=t0)],
            child_ids=["grandchild", "grandchild"],
        ),
        SessionChanges("child", state={"x": 10}),
        SessionChanges("lonely"),
    ]


def _comparable(session: Session | None) -> dict[str, Any]:
    assert session is not None
    data = session.model_dump()
    if session.id == "parent" or session.id == "lonely":
        data.pop("metadata")  # creation times: "now" in each store
    return data


def test_apply_matches_the_memory_store(store: FileSessionStore, directory: Path) -> None:
    memory = InMemorySessionStore()
    for changes in _changes_script():
        memory.apply(changes)
        store.apply(changes)

    fresh = FileSessionStore(directory)
    for session_id in ("child", "parent", "lonely"):
        assert _comparable(fresh.get(session_id)) == _comparable(memory.get(session_id))
        assert fresh.children(session_id) == memory.children(session_id)
        assert fresh.exists(session_id)
    assert fresh.list_sessions() == sorted(memory.list_sessions())

    child = fresh.get("child")
    assert child is not None
    assert [e.message for e in child.events] == ["one, edited", "two"]  # replaced in place
    assert child.metadata.properties == {"a": 1, "b": 2}
    assert child.state == {"x": 10, "y": 2}
    assert [r.status for r in child.runs] == [RunStatus.COMPLETED, RunStatus.PENDING]
    assert fresh.children("parent") == ["child"]
    assert child.parent_id == "parent"


def test_a_session_read_with_a_replaced_event_saves_only_what_is_new(
    store: FileSessionStore, directory: Path
) -> None:
    store.apply(SessionChanges("s", events=[SessionEvent(id="a"), SessionEvent(id="b")]))
    store.apply(SessionChanges("s", events=[SessionEvent(id="a", message="edited")]))
    loaded = FileSessionStore(directory).get("s")
    assert loaded is not None
    assert [(e.id, e.message) for e in loaded.events] == [("a", "edited"), ("b", None)]

    loaded.add_event(SessionEvent(id="c"))
    store.save(loaded)
    assert event_lines(directory, "s") == 4  # a, b, a again, and c: nothing rewritten
    again = FileSessionStore(directory).get("s")
    assert again is not None
    assert [e.id for e in again.events] == ["a", "b", "c"]


def test_token_summary_is_what_the_events_add_up_to(store: FileSessionStore) -> None:
    events = [
        SessionEvent(token_usage=TokenUsage(prompt_tokens=i, completion_tokens=2 * i, model=m))
        for i, m in enumerate(["gpt-4o-mini", "gpt-4o", "gpt-4o-mini", "", "no-such-model"], 1)
    ]
    events.append(SessionEvent(message="no usage"))
    store.apply(SessionChanges("tokens", events=events))

    expected = TokenSummary()
    for event in events:
        assert event.token_usage is not None or event.message == "no usage"
        if event.token_usage is not None:
            expected.add_usage(event.token_usage)
    loaded = store.get("tokens")
    assert loaded is not None
    assert loaded.token_summary.model_dump() == expected.model_dump()


def test_get_marks_everything_persisted(store: FileSessionStore, directory: Path) -> None:
    store.save(rich_session())
    loaded = store.get("rich-1")
    assert loaded is not None
    before = log_path(directory, "rich-1").read_bytes()
    store.save(loaded)  # nothing new: no event or run is written again
    after = log_path(directory, "rich-1").read_bytes()
    assert b'{"e":' not in after[len(before) :]
    assert b'{"r":' not in after[len(before) :]


def test_repeated_saves_of_an_unchanged_session_write_nothing(
    store: FileSessionStore, directory: Path
) -> None:
    session = rich_session()
    session.child_ids.append("kid")
    store.save(session)
    before = log_path(directory, "rich-1").read_bytes()
    store.save(session)
    loaded = store.get("rich-1")
    assert loaded is not None
    store.save(loaded)
    assert log_path(directory, "rich-1").read_bytes() == before


def test_records_of_unknown_kinds_are_skipped(store: FileSessionStore, directory: Path) -> None:
    store.apply(SessionChanges("future", events=[SessionEvent(id="a")]))
    with log_path(directory, "future").open("ab") as f:
        f.write(b'{"z":{"from":"a newer version"}}\n')
    loaded = store.get("future")
    assert loaded is not None and [e.id for e in loaded.events] == ["a"]


def test_delete(store: FileSessionStore, directory: Path) -> None:
    store.apply(SessionChanges("kid", parent_id="mom", events=[SessionEvent()]))
    store.apply(SessionChanges("kid2", parent_id="mom"))
    assert store.children("mom") == ["kid", "kid2"]

    store.delete("kid")
    store.delete("kid")  # missing: a no-op
    store.delete("never-was")

    assert store.get("kid") is None
    assert not store.exists("kid")
    assert not log_path(directory, "kid").exists()
    assert store.children("mom") == ["kid2"]
    assert FileSessionStore(directory).children("mom") == ["kid2"]
    assert store.list_sessions() == ["kid2", "mom"]

    # A session written again after deletion starts afresh and is linked again.
    store.apply(SessionChanges("kid", parent_id="mom"))
    loaded = store.get("kid")
    assert loaded is not None and loaded.events == []
    assert store.children("mom") == ["kid2", "kid"]


def test_delete_of_a_parent_that_is_gone(store: FileSessionStore) -> None:
    store.apply(SessionChanges("kid", parent_id="mom"))
    store.delete("mom")
    store.delete("kid")  # the parent's log is not recreated just to unlink the child
    assert store.list_sessions() == []


# -- append only -----------------------------------------------------------------


def test_save_of_a_loaded_object_appends_only_new_events(
    store: FileSessionStore, directory: Path
) -> None:
    session = Session(id="s1")
    for i in range(5):
        session.add_event(SessionEvent(message=f"m{i}"))
    store.save(session)
    assert event_lines(directory, "s1") == 5

    loaded = FileSessionStore(directory).get("s1")
    assert loaded is not None
    loaded.add_event(SessionEvent(message="new 1"))
    loaded.add_event(SessionEvent(message="new 2"))
    before = log_path(directory, "s1").read_bytes()
    store.save(loaded)
    after = log_path(directory, "s1").read_bytes()

    assert after.startswith(before)  # appended, never rewritten
    assert event_lines(directory, "s1") == 7
    assert after.count(b"\n") - before.count(b"\n") <= 2 + 1  # the events, plus new metadata


def test_save_never_drops_what_another_writer_appended(directory: Path) -> None:
    first, second = FileSessionStore(directory), FileSessionStore(directory)
    session = Session(id="shared")
    session.add_event(SessionEvent(id="a", message="a"))
    first.save(session)

    mine = first.get("shared")
    theirs = second.get("shared")
    assert mine is not None and theirs is not None
    theirs.add_event(SessionEvent(id="b", message="b"))
    theirs.state["theirs"] = True
    second.save(theirs)
    mine.add_event(SessionEvent(id="c", message="c"))
    first.save(mine)

    loaded = FileSessionStore(directory).get("shared")
    assert loaded is not None
    assert [e.id for e in loaded.events] == ["a", "b", "c"]


def test_eight_threads_append_to_one_session(directory: Path) -> None:
    store = FileSessionStore(directory)
    other = FileSessionStore(directory)  # a second store object on the same files
    start = threading.Barrier(8)

    def write(worker: int) -> None:
        target = store if worker % 2 else other
        start.wait()
        for n in range(200):
            event = SessionEvent(id=f"w{worker}-{n}", message="x" * (n % 50))
            target.apply(SessionChanges("busy", events=[event]))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    loaded = FileSessionStore(directory).get("busy")
    assert loaded is not None
    ids = [e.id for e in loaded.events]
    assert len(ids) == len(set(ids)) == 1600
    for worker in range(8):  # each writer's events stay in its own order
        mine = [i for i in ids if i.startswith(f"w{worker}-")]
        assert mine == [f"w{worker}-{n}" for n in range(200)]


# -- crash rules -----------------------------------------------------------------


def test_torn_last_line_is_ignored_and_cut_before_the_next_append(
    store: FileSessionStore, directory: Path
) -> None:
    store.apply(SessionChanges("torn", events=[SessionEvent(id="ok", message="fine")]))
    path = log_path(directory, "torn")
    with path.open("ab") as f:
        f.write(b'{"e":{"id":"half","message":"never fini')

    loaded = FileSessionStore(directory).get("torn")
    assert loaded is not None
    assert [e.id for e in loaded.events] == ["ok"]

    store.apply(SessionChanges("torn", events=[SessionEvent(id="next")]))
    assert b"never fini" not in path.read_bytes()
    reloaded = FileSessionStore(directory).get("torn")
    assert reloaded is not None
    assert [e.id for e in reloaded.events] == ["ok", "next"]


def test_a_log_torn_in_its_first_line_reads_as_absent(directory: Path) -> None:
    directory.mkdir()
    log_path(directory, "new").write_bytes(b'{"i":"ne')
    store = FileSessionStore(directory)
    assert store.get("new") is None
    assert not store.exists("new")
    store.apply(SessionChanges("new", events=[SessionEvent(id="e")]))
    loaded = store.get("new")
    assert loaded is not None and [e.id for e in loaded.events] == ["e"]


@pytest.mark.parametrize(
    "bad_line",
    [
        b"this is not json",
        b'{"e":{"id":"x","timestamp":"not a date"}}',
        b'{"e":{"id":"x"',
        b'{"m":{"created_at":[]}}',
        b'{"r":{"status":"sleepy"}}',
        b'{"s":[1,2]}',
        b'{"c":"not-a-list"}',
        b"\xff\xfe invalid utf-8",
        b"",
    ],
)
def test_unreadable_middle_line_raises(directory: Path, bad_line: bytes) -> None:
    store = FileSessionStore(directory)
    store.apply(SessionChanges("hurt", events=[SessionEvent(id="a")]))
    with log_path(directory, "hurt").open("ab") as f:
        f.write(bad_line + b"\n")
    store.apply(SessionChanges("hurt", events=[SessionEvent(id="b")]))

    with pytest.raises(SessionCorruptedError):
        FileSessionStore(directory).get("hurt")


def test_a_log_that_names_another_session_is_corrupt(store: FileSessionStore) -> None:
    store.apply(SessionChanges("one"))
    os.replace(store.directory / log_name("one"), store.directory / log_name("two"))
    with pytest.raises(SessionCorruptedError):
        store.get("two")
    assert not store.exists("two")


def test_fsync_mode(directory: Path) -> None:
    store = create_file_session_store(directory, fsync=True)
    store.apply(SessionChanges("durable", events=[SessionEvent(id="e")]))
    loaded = FileSessionStore(directory).get("durable")
    assert loaded is not None and [e.id for e in loaded.events] == ["e"]


# -- hostile ids -----------------------------------------------------------------

HOSTILE_IDS = [
    "../x",
    "../../etc/passwd",
    "a/b",
    "/abs/path",
    "..",
    ".",
    ".hidden",
    "a\x00b",
    "a\nb",
    "ünïcødé",
    "🙂",
    "x" * 10_000,
    "é" * 300,
    "UPPER",
    "upper",
    "~mfrgg",
    "=abc",
    "abc.jsonl",
    " spaced ",
    "C:\\windows",
    "abc-123_x.y",
]


def test_hostile_ids_stay_inside_the_directory_and_round_trip(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "sessions"
    store = FileSessionStore(directory)
    outside_before = {p for p in tmp_path.rglob("*") if directory not in p.parents}

    for session_id in HOSTILE_IDS:
        store.apply(SessionChanges(session_id, events=[SessionEvent(id="e", message=session_id)]))

    outside_after = {p for p in tmp_path.rglob("*") if directory not in p.parents}
    assert outside_after == outside_before
    files = [p for p in directory.iterdir() if p.name != ".index.jsonl"]
    assert len(files) == len(HOSTILE_IDS)  # no two ids share a file
    for path in files:
        assert path.parent == directory and path.is_file()
        assert len(path.name.encode()) <= 255
        assert not path.name.startswith(".")

    fresh = FileSessionStore(directory)
    assert fresh.list_sessions() == sorted(HOSTILE_IDS)
    for session_id in HOSTILE_IDS:
        loaded = fresh.get(session_id)
        assert loaded is not None and loaded.id == session_id
        assert loaded.events[0].message == session_id
        assert fresh.exists(session_id)
    assert (directory / "abc-123_x.y.jsonl").is_file()  # plain ids stay readable


def test_hostile_parent_and_child_ids(store: FileSessionStore) -> None:
    store.apply(SessionChanges("../kid", parent_id="../../mom", child_ids=["a/b\x00"]))
    assert store.children("../../mom") == ["../kid"]
    assert store.children("../kid") == ["a/b\x00"]


def test_list_sessions_by_prefix(store: FileSessionStore) -> None:
    ids = ["app:1", "app:2", "other", "app-3", "a" * 500 + "z", "app" + "é" * 200]
    for session_id in ids:
        store.apply(SessionChanges(session_id))
    assert store.list_sessions("app") == sorted(["app:1", "app:2", "app-3", "app" + "é" * 200])
    assert store.list_sessions("a" * 400) == ["a" * 500 + "z"]
    assert store.list_sessions("zzz") == []
    assert FileSessionStore(store.directory).list_sessions() == sorted(ids)


def test_list_sessions_reads_no_log_with_a_readable_name(store: FileSessionStore) -> None:
    store.apply(SessionChanges("plain-id"))
    log_path(store.directory, "plain-id").write_bytes(b"garbage that no reader could parse")
    (store.directory / "notes.txt").write_text("not a log")
    assert store.list_sessions() == ["plain-id"]


def test_a_planted_symlink_is_not_followed(tmp_path: Path, store: FileSessionStore) -> None:
    target = tmp_path / "outside.txt"
    target.write_text("keep me")
    (store.directory / "victim.jsonl").symlink_to(target)

    with pytest.raises(SessionCorruptedError):
        store.apply(SessionChanges("victim", events=[SessionEvent()]))
    with pytest.raises(SessionCorruptedError):
        store.get("victim")
    assert target.read_text() == "keep me"


# -- backend errors --------------------------------------------------------------


def test_a_directory_under_a_file_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailableError) as info:
        FileSessionStore(blocker / "sessions")
    assert isinstance(info.value.__cause__, OSError)


def test_a_directory_that_becomes_unwritable(tmp_path: Path) -> None:
    directory = tmp_path / "sessions"
    store = FileSessionStore(directory)
    store.apply(SessionChanges("s", events=[SessionEvent()]))

    for path in directory.iterdir():
        path.unlink()
    directory.rmdir()
    directory.write_text("now a file")  # every path inside it is now invalid

    with pytest.raises(StoreUnavailableError) as info:
        store.apply(SessionChanges("s", events=[SessionEvent()]))
    assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(StoreUnavailableError):
        store.get("s")
    with pytest.raises(StoreUnavailableError):
        store.list_sessions()
    with pytest.raises(StoreUnavailableError):
        store.exists("s")


def test_a_removed_directory_is_made_again(tmp_path: Path) -> None:
    directory = tmp_path / "sessions"
    store = FileSessionStore(directory)
    directory.rmdir()
    assert store.list_sessions() == []
    assert store.get("s") is None
    store.apply(SessionChanges("s", events=[SessionEvent(id="e")]))
    assert store.list_sessions() == ["s"]


def test_create_store_url(tmp_path: Path) -> None:
    store = create_store(f"file://{tmp_path / 'via-url'}")
    assert isinstance(store, FileSessionStore)
    store.apply(SessionChanges("u"))
    assert (tmp_path / "via-url" / "u.jsonl").is_file()
    store.close()
