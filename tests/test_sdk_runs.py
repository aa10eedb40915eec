"""Runs, tools, sessions and events recorded through the SDK into a real store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

import a2a_session_manager as asm
from a2a_session_manager.models import EventSource, EventType, RunStatus
from tests.support.otel import Recorder, clean_otel, recorder

__all__ = ["clean_otel", "recorder"]


def test_nested_runs_tools_and_events_in_sync_code(recorder: Recorder) -> None:
    @asm.tool
    def add(a: int, b: int = 2) -> int:
        return a + b

    @asm.run("inner")
    def inner() -> int:
        assert asm.current_session_id() == "s-1"
        return add(1, b=5)

    with asm.session("s-1", properties={"user": "u1"}) as s, asm.run("outer") as outer:
        assert asm.current_run_id() == outer.id
        asm.record_event("hello", source=EventSource.USER)
        assert inner() == 6
        assert asm.current_run_id() == outer.id
    assert s.id == "s-1"

    stored = recorder.store.get("s-1")
    assert stored is not None
    assert stored.metadata.properties == {"user": "u1"}
    runs = {r.name: r for r in stored.runs}
    assert runs["outer"].status is RunStatus.COMPLETED
    assert runs["inner"].parent_run_id == runs["outer"].id
    assert runs["outer"].parent_run_id is None
    assert [e.type for e in stored.events] == [EventType.MESSAGE, EventType.TOOL_CALL]
    hello, call = stored.events
    assert hello.message == "hello" and hello.source is EventSource.USER
    assert hello.task_id == runs["outer"].id
    assert call.message == {
        "tool_name": "add",
        "call_id": None,
        "arguments": {"a": 1, "b": 5},
        "result": 6,
        "error": None,
    }
    assert call.task_id == runs["inner"].id
    assert asm.get_tool("add") is not None
    assert asm.get_tool("add").function is add  # type: ignore[union-attr]


async def test_async_runs_tools_and_async_with(recorder: Recorder) -> None:
    @asm.tool("lookup")
    async def lookup(key: str) -> str:
        await asyncio.sleep(0)
        return key.upper()

    @asm.run
    async def agent(q: str) -> str:
        return await lookup(q)

    async with asm.session("a-1"):
        assert await agent("x") == "X"
        async with asm.run("second") as r:
            await asyncio.sleep(0)
            assert asm.current_run_id() == r.id
    stored = recorder.store.get("a-1")
    assert stored is not None
    assert {r.name for r in stored.runs} == {"second", agent.__qualname__}
    assert stored.events[0].message["tool_name"] == "lookup"
    assert stored.events[0].message["result"] == "X"


def test_generator_run_stays_open_until_exhausted_and_context_does_not_leak(
    recorder: Recorder,
) -> None:
    @asm.run("stream")
    def stream(n: int) -> Iterator[int]:
        for i in range(n):
            asm.record_event(f"item {i}")
            yield i

    with asm.session("g-1"):
        gen = stream(3)
        assert next(gen) == 0
        assert asm.current_run_id() is None  # the run's context is not the caller's
        assert list(gen) == [1, 2]
    stored = recorder.store.get("g-1")
    assert stored is not None
    (run,) = stored.runs
    assert run.status is RunStatus.COMPLETED
    assert [e.message for e in stored.events] == ["item 0", "item 1", "item 2"]
    assert all(e.task_id == run.id for e in stored.events)


def test_generator_closed_early_and_generator_failing(recorder: Recorder) -> None:
    @asm.run("gen")
    def gen() -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    with asm.session("g-2"):
        g = gen()
        next(g)
        g.close()
        g2 = gen()
        next(g2)
        with pytest.raises(ValueError, match="boom"):
            next(g2)
    stored = recorder.store.get("g-2")
    assert stored is not None
    closed, failed = sorted(stored.runs, key=lambda r: r.status.value)
    assert (closed.status, failed.status) == (RunStatus.COMPLETED, RunStatus.FAILED)
    assert closed.metadata == {"closed_early": True}  # what happened, not inferred away
    assert failed.metadata == {}


async def test_async_generator_run(recorder: Recorder) -> None:
    @asm.run("agen")
    async def agen() -> AsyncIterator[int]:
        for i in range(3):
            await asyncio.sleep(0)
            yield i

    async with asm.session("ag-1"):
        assert [i async for i in agen()] == [0, 1, 2]
        early = agen()
        assert await early.__anext__() == 0
        await early.aclose()
    stored = recorder.store.get("ag-1")
    assert stored is not None
    assert [r.status for r in stored.runs] == [RunStatus.COMPLETED] * 2
    assert sorted(r.metadata.get("closed_early", False) for r in stored.runs) == [False, True]


def test_user_exception_propagates_unchanged_and_run_fails(recorder: Recorder) -> None:
    error = RuntimeError("user failure")

    @asm.run("failing")
    def failing() -> None:
        raise error

    with asm.session("f-1"), pytest.raises(RuntimeError) as caught:
        failing()
    assert caught.value is error
    assert caught.value.__traceback__ is not None
    frames = []
    tb = caught.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-1] == "failing"
    stored = recorder.store.get("f-1")
    assert stored is not None
    (run,) = stored.runs
    assert run.status is RunStatus.FAILED
    assert run.error == "RuntimeError: user failure"


def test_tool_failure_is_recorded_with_its_error(recorder: Recorder) -> None:
    @asm.tool
    def broken(x: int) -> int:
        raise KeyError(x)

    with asm.session("t-1"), asm.run("r"), pytest.raises(KeyError):
        broken(3)
    stored = recorder.store.get("t-1")
    assert stored is not None
    (event,) = stored.events
    assert event.message["error"] == "KeyError: 3"
    assert event.message["arguments"] == {"x": 3}


async def test_cancelled_run_is_recorded_cancelled(recorder: Recorder) -> None:
    started = asyncio.Event()

    @asm.run("slow")
    async def slow() -> None:
        started.set()
        await asyncio.sleep(3600)

    async with asm.session("c-1"):
        task = asyncio.create_task(slow())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    stored = recorder.store.get("c-1")
    assert stored is not None
    assert stored.runs[0].status is RunStatus.CANCELLED


def test_read_your_writes_when_outermost_run_returns(recorder: Recorder) -> None:
    with asm.session("ryw"):
        with asm.run("first"):
            asm.record_event("one")
            with asm.run("nested"):
                pass
        # no flush by the test: the outermost run's return wrote everything
        stored = recorder.store.get("ryw")
        assert stored is not None
        assert {r.name for r in stored.runs} == {"first", "nested"}
        assert [e.message for e in stored.events] == ["one"]


def test_run_without_session_lands_in_trace_id_session(recorder: Recorder) -> None:
    with asm.run("orphan") as r:
        asm.record_event("kept")
    sessions = recorder.store.list_sessions()
    assert len(sessions) == 1
    (session_id,) = sessions
    assert session_id.startswith("trace-")
    (run_span,) = recorder.exporter.get_finished_spans()[-1:]
    assert run_span.context is not None
    assert int(session_id.removeprefix("trace-"), 16) == run_span.context.trace_id
    stored = recorder.store.get(session_id)
    assert stored is not None
    assert stored.runs[0].id == r.id
    assert stored.events[0].message == "kept"


def test_nested_session_is_a_child(recorder: Recorder) -> None:
    with asm.session("parent"), asm.session("child") as child:
        assert child.parent_id == "parent"
        assert asm.current_session_id() == "child"
    child_stored = recorder.store.get("child")
    assert child_stored is not None and child_stored.parent_id == "parent"
    assert recorder.store.children("parent") == ["child"]
    assert [a.id for a in child_stored.ancestors(recorder.store)] == ["parent"]


def test_hostile_inputs_never_reach_user_code(recorder: Recorder) -> None:
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    @asm.tool
    def odd(value: object, blob: bytes) -> object:
        return {1, 2}

    long_id = "x" * 10_000
    with asm.session(long_id), asm.run("r"):
        assert odd(object(), b"\xff\xfe") == {1, 2}
        asm.record_event("\ud800 lone surrogate and NUL \x00")
        asm.record_event({"big": "y" * 5_000_000})
    stored = recorder.store.get(long_id)
    assert stored is not None
    assert len(stored.events) == 3
    assert stored.events[0].message["result"] == [1, 2]
    assert len(stored.events[2].message["big"]) == 5_000_000
    with pytest.raises(ValueError):
        asm.session("")


def test_broken_store_never_reaches_user_code(recorder: Recorder) -> None:
    class BrokenStore(asm.InMemorySessionStore):
        def apply(self, changes: object) -> None:
            raise RuntimeError("disk on fire")

    asm.configure(store=BrokenStore(), tracer_provider=recorder.provider)

    @asm.run("still works")
    def work() -> int:
        return 42

    with asm.session("b-1"):
        assert work() == 42
    stats = recorder.handle.stats()
    assert stats["store_errors"] >= 1
    assert stats["failed_items"] >= 1
