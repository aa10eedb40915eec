"""The file store shared by real processes: concurrent writers, and a writer
killed with SIGKILL in the middle of its appends."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.storage.changes import SessionChanges
from a2a_session_manager.storage.file import FileSessionStore

WRITER = Path(__file__).parent / "support" / "file_store_writer.py"


@pytest.fixture
def writers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:  # never leave a writer behind, whatever the test did
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for stream in (process.stdin, process.stdout):
            if stream:
                stream.close()


def start_writer(
    writers: list[subprocess.Popen[str]], directory: Path, session_id: str, tag: str, count: int
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(WRITER), str(directory), session_id, tag, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    writers.append(process)
    return process


def release(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def test_two_processes_append_to_one_session(
    tmp_path: Path, writers: list[subprocess.Popen[str]]
) -> None:
    directory = tmp_path / "sessions"
    first = start_writer(writers, directory, "shared", "p1", 500)
    second = start_writer(writers, directory, "shared", "p2", 500)
    release(first)
    release(second)
    for process in (first, second):
        out, _ = process.communicate(timeout=240)
        assert process.returncode == 0
        assert out.split()[-1] == "500"

    loaded = FileSessionStore(directory).get("shared")
    assert loaded is not None
    ids = [e.id for e in loaded.events]
    assert len(ids) == len(set(ids)) == 1000
    for tag in ("p1", "p2"):
        assert [i for i in ids if i.startswith(tag + "-")] == [f"{tag}-{n}" for n in range(500)]
    assert all(e.message["n"] == int(e.id.split("-")[1]) for e in loaded.events)


def test_a_writer_killed_mid_append_leaves_a_readable_log(
    tmp_path: Path, writers: list[subprocess.Popen[str]]
) -> None:
    directory = tmp_path / "sessions"
    FileSessionStore(directory).apply(
        SessionChanges("victim", events=[SessionEvent(id="before", message="kept")])
    )
    process = start_writer(writers, directory, "victim", "k", 0)
    release(process)
    assert process.stdout is not None
    confirmed = 0
    while confirmed < 300:  # appends that returned: they must all survive
        line = process.stdout.readline()
        assert line, "writer ended early"
        confirmed = int(line)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    store = FileSessionStore(directory)
    loaded = store.get("victim")
    assert loaded is not None
    ids = [e.id for e in loaded.events]
    written = ids[1:]
    assert ids[0] == "before"
    assert len(written) >= confirmed
    assert written == [f"k-{n}" for n in range(len(written))]  # a clean prefix, no holes

    # The store goes on as usual after the crash.
    store.apply(SessionChanges("victim", events=[SessionEvent(id="after")]))
    again = FileSessionStore(directory).get("victim")
    assert again is not None
    assert [e.id for e in again.events] == [*ids, "after"]
