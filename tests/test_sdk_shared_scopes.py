"""One ``session``/``run``/``tool`` object shared by many threads and tasks:
each entry is its own, ends with its own outcome, and leaves its own
context clean (issue 10)."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

import a2a_session_manager as asm
from a2a_session_manager.models import RunStatus
from tests.support.otel import Recorder, clean_otel, recorder

__all__ = ["clean_otel", "recorder"]

THREADS = 16
TASKS = 50

# Module level, as applications write them: one object, entered everywhere.
SHARED_SESSION = asm.session()  # no id: each entry opens a new session
SHARED_RUN = asm.run("shared")
SHARED_TOOL = asm.tool("shared_tool")


class Boom(Exception):
    pass


def _fails(i: int) -> bool:
    return i % 3 == 0


def _assert_each_entry_kept_its_own_outcome(
    recorder: Recorder, outcomes: dict[int, tuple[str, str]]
) -> None:
    """``outcomes``: worker index → (session id, run id) it saw while inside."""
    assert len({session_id for session_id, _ in outcomes.values()}) == len(outcomes)
    for i, (session_id, run_id) in outcomes.items():
        stored = recorder.store.get(session_id)
        assert stored is not None, i
        assert [run.id for run in stored.runs] == [run_id]
        (run,) = stored.runs
        (call,) = stored.events
        assert call.task_id == run_id
        if _fails(i):
            assert run.status is RunStatus.FAILED
            assert run.error is not None and f"boom {i}" in run.error
            assert call.message["error"] is not None and f"boom {i}" in call.message["error"]
            assert call.message["result"] is None
        else:
            assert run.status is RunStatus.COMPLETED
            assert run.error is None
            assert call.message["error"] is None
            assert call.message["result"] == i


def _no_detach_failures(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if "Failed to detach context" in r.getMessage()]


def test_one_object_entered_by_16_threads_at_once(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    inside = threading.Barrier(THREADS)  # every thread is inside before any leaves
    outcomes: dict[int, tuple[str, str]] = {}
    after: dict[int, tuple[str | None, str | None]] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            with SHARED_SESSION as s, SHARED_RUN as r:
                outcomes[i] = (s.id, r.id)
                with SHARED_TOOL as t:
                    inside.wait(timeout=30)
                    assert asm.current_run_id() == r.id
                    assert asm.current_session_id() == s.id
                    if _fails(i):
                        raise Boom(f"boom {i}")
                    t.set_result(i)
        except Boom:
            pass
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        after[i] = (asm.current_session_id(), asm.current_run_id())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert after == {i: (None, None) for i in range(THREADS)}
    assert asm.current_run_id() is None
    _assert_each_entry_kept_its_own_outcome(recorder, outcomes)
    _no_detach_failures(caplog)


async def test_one_object_entered_by_50_tasks_at_once(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outcomes: dict[int, tuple[str, str]] = {}
    everyone_inside = asyncio.Event()
    entered = 0

    async def worker(i: int) -> tuple[str | None, str | None]:
        nonlocal entered
        try:
            async with SHARED_SESSION as s, SHARED_RUN as r:
                outcomes[i] = (s.id, r.id)
                async with SHARED_TOOL as t:
                    entered += 1
                    if entered == TASKS:
                        everyone_inside.set()
                    await everyone_inside.wait()
                    # Leave in an order unrelated to the order of entry.
                    await asyncio.sleep(0.001 * ((i * 7) % 11))
                    assert asm.current_run_id() == r.id
                    if _fails(i):
                        raise Boom(f"boom {i}")
                    t.set_result(i)
        except Boom:
            pass
        return asm.current_session_id(), asm.current_run_id()

    after = await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(TASKS))), 60)
    assert after == [(None, None)] * TASKS
    assert asm.current_run_id() is None
    _assert_each_entry_kept_its_own_outcome(recorder, outcomes)
    _no_detach_failures(caplog)


def test_nested_entries_of_one_object_end_innermost_first(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with asm.session("nested") as s:
        with SHARED_RUN as outer:
            with pytest.raises(Boom), SHARED_RUN as inner:
                assert asm.current_run_id() == inner.id
                raise Boom("inner only")
            assert asm.current_run_id() == outer.id
        assert asm.current_run_id() is None
        assert asm.current_session_id() == s.id
    stored = recorder.store.get("nested")
    assert stored is not None
    runs = {run.id: run for run in stored.runs}
    assert runs[inner.id].status is RunStatus.FAILED
    assert runs[inner.id].parent_run_id == outer.id
    assert runs[outer.id].status is RunStatus.COMPLETED
    assert runs[outer.id].error is None
    _no_detach_failures(caplog)


def test_entries_of_two_objects_left_out_of_order_each_end_their_own(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first, second = asm.run("first"), asm.run("second")
    with asm.session("interleaved"):
        a = first.__enter__()
        b = second.__enter__()
        first.__exit__(Boom, Boom("first fails"), None)  # not the innermost
        second.__exit__(None, None, None)
    stored = recorder.store.get("interleaved")
    assert stored is not None
    runs = {run.id: run for run in stored.runs}
    assert runs[a.id].status is RunStatus.FAILED
    assert runs[a.id].error is not None and "first fails" in runs[a.id].error
    assert runs[b.id].status is RunStatus.COMPLETED


def test_leaving_an_object_never_entered_here_does_not_raise(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    SHARED_RUN.__exit__(None, None, None)
    assert asm.current_run_id() is None
    assert any("was not entered" in r.getMessage() for r in caplog.records)
