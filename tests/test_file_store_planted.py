"""The file store refuses, without blocking, names that do not hold a plain,
singly linked log: a FIFO, a hard link to a file elsewhere, a symlink.
Each op runs under a pytest timeout: a FIFO opened without O_NONBLOCK would
wait for a writer forever."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.storage import SessionCorruptedError
from a2a_session_manager.storage._file_names import log_name
from a2a_session_manager.storage.changes import SessionChanges
from a2a_session_manager.storage.file import FileSessionStore
from tests.test_cli import run_cli

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def store(tmp_path: Path) -> FileSessionStore:
    store = FileSessionStore(tmp_path / "sessions")
    good = Session(id="good")
    good.add_event(SessionEvent(message="still listed"))
    store.save(good)
    return store


def plant_fifo(store: FileSessionStore, session_id: str) -> Path:
    path = store.directory / log_name(session_id)
    os.mkfifo(path)
    return path


def test_a_fifo_is_refused_by_every_operation(store: FileSessionStore) -> None:
    plant_fifo(store, "fifo")
    with pytest.raises(SessionCorruptedError, match="FIFO"):
        store.get("fifo")
    with pytest.raises(SessionCorruptedError, match="FIFO"):
        store.exists("fifo")
    with pytest.raises(SessionCorruptedError, match="FIFO"):
        store.children("fifo")
    with pytest.raises(SessionCorruptedError, match="FIFO"):
        store.apply(SessionChanges("fifo", events=[SessionEvent()]))
    with pytest.raises(SessionCorruptedError, match="FIFO"):
        store.delete("fifo")
    # A child whose parent's log is a FIFO: the child is written, the link refused.
    store.apply(SessionChanges("kid", parent_id="fifo", events=[SessionEvent(id="k")]))
    kid = store.get("kid")
    assert kid is not None and kid.parent_id == "fifo" and [e.id for e in kid.events] == ["k"]
    store.delete("kid")
    assert not store.exists("kid")
    assert store.list_sessions() == ["fifo", "good"]
    assert store.get("good") is not None


def test_a_fifo_under_a_hashed_name_is_skipped_when_listing(
    store: FileSessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    long_id = "x" * 300  # a hashed file name: listing reads the id from the log
    plant_fifo(store, long_id)
    with caplog.at_level(logging.WARNING):
        assert store.list_sessions() == ["good"]
    assert "FIFO" in caplog.text


def test_a_hard_link_is_neither_appended_to_nor_truncated(
    tmp_path: Path, store: FileSessionStore
) -> None:
    outside = tmp_path / "outside.txt"
    # No final newline: a log with a torn tail would be cut back to its last newline.
    outside.write_bytes(b"line one\nprecious tail")
    os.link(outside, store.directory / log_name("linked"))

    with pytest.raises(SessionCorruptedError, match="hard links"):
        store.apply(SessionChanges("linked", events=[SessionEvent(message="x")]))
    with pytest.raises(SessionCorruptedError, match="hard links"):
        store.get("linked")
    with pytest.raises(SessionCorruptedError, match="hard links"):
        store.exists("linked")
    with pytest.raises(SessionCorruptedError, match="hard links"):
        store.delete("linked")
    assert outside.read_bytes() == b"line one\nprecious tail"
    assert (store.directory / log_name("linked")).exists()


def test_a_log_hard_linked_after_it_was_written_is_refused(
    tmp_path: Path, store: FileSessionStore
) -> None:
    # A second name for a real log: writing it would also change the other name.
    os.link(store.directory / log_name("good"), tmp_path / "copy-elsewhere")
    before = (tmp_path / "copy-elsewhere").read_bytes()
    with pytest.raises(SessionCorruptedError, match="hard links"):
        store.apply(SessionChanges("good", events=[SessionEvent()]))
    assert (tmp_path / "copy-elsewhere").read_bytes() == before


def test_cli_list_skips_planted_and_corrupt_logs_with_warnings(
    tmp_path: Path, store: FileSessionStore
) -> None:
    plant_fifo(store, "fifo")
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    os.link(outside, store.directory / log_name("linked"))
    (store.directory / log_name("corrupt")).write_bytes(b'{"i":"corrupt"}\nnot json\n')

    done = run_cli("--store", f"file://{store.directory}", "list", cwd=tmp_path)

    assert done.returncode == 4, done.stderr  # stored data that cannot be read back
    rows = [line.split()[0] for line in done.stdout.splitlines()[2:]]
    assert rows == ["good"]
    for session_id in ("fifo", "linked", "corrupt"):
        assert f"cannot read session '{session_id}'" in done.stderr
    assert outside.read_text() == "not yours"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_log_this_process_may_not_read_is_skipped_by_list(
    tmp_path: Path, store: FileSessionStore
) -> None:
    locked = Session(id="locked")
    locked.add_event(SessionEvent(message="secret"))
    store.save(locked)
    (store.directory / log_name("locked")).chmod(0)

    with pytest.raises(SessionCorruptedError, match="ermission"):
        store.get("locked")
    done = run_cli("--store", f"file://{store.directory}", "list", cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()[2:]] == ["good"]
    assert "cannot read session 'locked'" in done.stderr


def test_export_replaces_links_planted_at_report_names(tmp_path: Path) -> None:
    from a2a_session_manager.reports import report_filename

    store = FileSessionStore(tmp_path / "sessions")
    parent = Session(id="parent")
    parent.add_child("kid")
    store.save(parent)
    store.save(Session(id="kid", parent_id="parent"))
    out = tmp_path / "html"
    out.mkdir()
    victim, other = tmp_path / "victim.txt", tmp_path / "other.txt"
    victim.write_text("keep me")
    other.write_text("me too")
    (out / report_filename("kid")).symlink_to(victim)
    os.link(other, out / report_filename("parent"))

    done = run_cli(
        "--store", f"file://{store.directory}", "export", "parent",
        "--html", str(out / report_filename("parent")), "--with-children", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert victim.read_text() == "keep me" and other.read_text() == "me too"
    for name in (report_filename("kid"), report_filename("parent")):
        page = out / name
        assert not page.is_symlink() and page.stat().st_nlink == 1
        assert "<html" in page.read_text()
    assert sorted(p.name for p in out.iterdir()) == ["kid.html", "parent.html"]
