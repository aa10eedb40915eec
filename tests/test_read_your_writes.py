"""Read-your-writes: when an outermost run or a session block returns,
everything recorded inside it is readable from the store.

A file or Redis store is written before the run returns (another process may
read it next). The in-process memory store is read only through its own
methods, so it drains the exporter's queue on read instead."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.storage import (
    InMemorySessionStore,
    SessionChanges,
    create_file_session_store,
)

pytestmark = pytest.mark.usefixtures("clean_otel")


def test_memory_store_reads_see_every_run_that_returned() -> None:
    store = InMemorySessionStore()
    handle = asm.configure(store=store, tracer_provider=TracerProvider(), schedule_delay=60)
    try:

        @asm.run("agent")
        def agent(i: int) -> int:
            asm.record_event(f"step {i}")
            return i

        with asm.session("s-memory"):
            for i in range(50):
                agent(i)
                session = store.get("s-memory")
                assert session is not None
                assert len(session.runs) == i + 1
                assert session.events[-1].message == f"step {i}"
        assert store.list_sessions() == ["s-memory"]
        assert store.exists("s-memory")
    finally:
        handle.shutdown()
    assert store.read_barrier is None  # the exporter no longer hooks reads


def test_memory_store_read_waits_for_a_flush_in_progress_on_another_thread() -> None:
    release = threading.Event()
    entered = threading.Event()

    store = InMemorySessionStore()
    original_apply = store.apply

    def slow_apply(changes: SessionChanges) -> None:  # a write that takes a while
        if changes.session_id == "slow" and not entered.is_set():
            entered.set()
            release.wait(10)
        original_apply(changes)

    store.apply = slow_apply  # type: ignore[method-assign]
    handle = asm.configure(store=store, tracer_provider=TracerProvider(), schedule_delay=60)
    try:
        with asm.session("slow"), asm.run("agent"):
            asm.record_event("recorded before the read")
        flusher = threading.Thread(target=handle.force_flush)
        flusher.start()
        assert entered.wait(10)  # the other thread holds the spans, mid-write
        results: list[object] = []
        reader = threading.Thread(target=lambda: results.append(store.get("slow")))
        reader.start()
        reader.join(0.2)
        assert reader.is_alive()  # the read waits for the write in progress
        release.set()
        reader.join(10)
        flusher.join(10)
        session = results[0]
        assert session is not None
        assert [e.message for e in session.events] == ["recorded before the read"]  # type: ignore[attr-defined]
    finally:
        release.set()
        handle.shutdown()


def test_file_store_is_written_before_the_run_returns(tmp_path: Path) -> None:
    store = create_file_session_store(directory=tmp_path)
    handle = asm.configure(store=store, tracer_provider=TracerProvider(), schedule_delay=60)
    try:
        with asm.session("s-file"):
            with asm.run("agent"):
                asm.record_event("on disk")
            # a new store instance (as another process would) sees it at once
            cold = create_file_session_store(directory=tmp_path).get("s-file")
            assert cold is not None
            assert [e.message for e in cold.events] == ["on disk"]
            assert cold.runs[0].status.value == "completed"
    finally:
        handle.shutdown()
