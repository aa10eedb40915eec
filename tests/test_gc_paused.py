"""Cold reads pause the cyclic GC and always restore it, even on corrupt data."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from a2a_session_manager.models import Session, SessionEvent
from a2a_session_manager.storage import SessionCorruptedError, create_file_session_store
from a2a_session_manager.storage.serialization import gc_paused


def test_gc_paused_restores_the_collector_state() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # the application's choice is kept
    finally:
        gc.enable()


def test_a_corrupt_cold_read_leaves_the_collector_enabled(tmp_path: Path) -> None:
    store = create_file_session_store(directory=tmp_path)
    session = Session(id="s")
    for i in range(3):
        session.add_event(SessionEvent(message=f"m{i}"))
    store.save(session)
    log = next(tmp_path.glob("*.jsonl"))
    lines = log.read_bytes().splitlines(keepends=True)
    lines.insert(2, b'{"e":{"not an event"}}\n')
    log.write_bytes(b"".join(lines))
    with pytest.raises(SessionCorruptedError):
        create_file_session_store(directory=tmp_path).get("s")
    assert gc.isenabled()
