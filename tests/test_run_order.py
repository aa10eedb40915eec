"""Runs stay together: three runs in flight at once in one session come out
each in one piece in ``show``, the report's conversation and the prompt."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.models import (
    EventSource,
    EventType,
    Session,
    SessionEvent,
    SessionRun,
)
from a2a_session_manager.models.event_order import events_in_run_order
from a2a_session_manager.prompts import PromptStrategy, build_prompt_from_session
from a2a_session_manager.reports import render_show, report_data
from a2a_session_manager.storage import InMemorySessionStore
from tests.support.otel import clean_otel

__all__ = ["clean_otel"]

AGENTS = ("alpha", "beta", "gamma")
STEPS = 3


@pytest.fixture
def store(clean_otel: None) -> Iterator[InMemorySessionStore]:
    provider = TracerProvider()
    store = InMemorySessionStore()
    handle = asm.configure(store=store, tracer_provider=provider)
    yield store
    handle.shutdown()
    provider.shutdown()


@asm.tool
def lookup(agent: str, step: int) -> str:
    return f"{agent}-result-{step}"


def one_step(agent: str, step: int) -> None:
    asm.record_event(f"{agent} question {step}", source=EventSource.USER)
    call_id = "call_0"  # the same id in every run and step, as many servers number them
    reply = {
        "content": None,
        "tool_calls": [{"id": call_id, "name": "lookup", "arguments": {"agent": agent}}],
    }
    reply_id = asm.record_event(reply, source=EventSource.LLM)
    with asm.tool("lookup", call_id=call_id, arguments={"agent": agent, "step": step}) as t:
        t.set_result(lookup.__wrapped__(agent, step))  # type: ignore[attr-defined]
    asm.record_event(f"{agent} answer {step}", source=EventSource.LLM)
    assert reply_id


def agent_in_thread(agent: str, barrier: threading.Barrier) -> None:
    with asm.session("shared"), asm.run(agent):
        for step in range(STEPS):
            barrier.wait(timeout=30)  # every run takes each step at the same time
            one_step(agent, step)


def owner(text: str) -> str:
    return next(agent for agent in AGENTS if agent in text)


def blocks(labels: list[str]) -> list[str]:
    """Consecutive equal labels collapsed: a run kept together appears once."""
    out: list[str] = []
    for label in labels:
        if not out or out[-1] != label:
            out.append(label)
    return out


def check_runs_stay_together(session: Session) -> None:
    runs = {run.id: run.name for run in session.runs}
    assert sorted(runs.values()) == sorted(AGENTS)
    stored = [runs[e.task_id] for e in session.events if e.task_id in runs]
    assert len(blocks(stored)) > len(AGENTS), "the runs did not interleave: no test"

    prompt = build_prompt_from_session(session, PromptStrategy.CONVERSATION)
    texts = [m.get("content") or "" for m in prompt if m["role"] in ("user", "assistant", "tool")]
    by_agent = [owner(str(t)) for t in texts if any(a in str(t) for a in AGENTS)]
    assert sorted(blocks(by_agent)) == sorted(AGENTS)
    # Each result answers its own run's call.
    tool_results = [m for m in prompt if m["role"] == "tool"]
    assert len(tool_results) == len(AGENTS) * STEPS
    assert all("result" in str(m["content"]) for m in tool_results)

    shown = render_show(session, full=True).split("\nEvents")[1].splitlines()
    show_runs = [owner(line) for line in shown if any(f"[{a}]" in line for a in AGENTS)]
    assert sorted(blocks(show_runs)) == sorted(AGENTS)
    for agent in AGENTS:
        results = [line for line in shown if f"{agent}-result" in line]
        assert len(results) == STEPS  # each folded under its own reply

    entries = report_data(session)["entries"]
    report_runs = [e["run"] for e in entries if e["run"]]
    assert sorted(blocks(report_runs)) == sorted(AGENTS)

    for run_id, name in runs.items():
        only = build_prompt_from_session(session, run_id=run_id)
        contents = " ".join(str(m.get("content") or "") for m in only)
        assert name in contents
        assert not any(other in contents for other in AGENTS if other != name)


def test_three_runs_in_threads_stay_together(store: InMemorySessionStore) -> None:
    barrier = threading.Barrier(len(AGENTS))
    threads = [threading.Thread(target=agent_in_thread, args=(a, barrier)) for a in AGENTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    session = store.get("shared")
    assert session is not None
    check_runs_stay_together(session)


async def test_three_runs_as_asyncio_tasks_stay_together(store: InMemorySessionStore) -> None:
    async def agent(name: str) -> None:
        async with asm.run(name):
            for step in range(STEPS):
                await asyncio.sleep(0)  # let the other runs take their step
                one_step(name, step)

    async with asm.session("shared"):
        await asyncio.gather(*(agent(name) for name in AGENTS))
    session = store.get("shared")
    assert session is not None
    check_runs_stay_together(session)


def test_nested_runs_stay_inside_their_parent() -> None:
    runs = [
        SessionRun(id="outer"),
        SessionRun(id="a", parent_run_id="outer"),
        SessionRun(id="b", parent_run_id="outer"),
        SessionRun(id="loop-1", parent_run_id="loop-2"),
        SessionRun(id="loop-2", parent_run_id="loop-1"),
    ]

    def e(name: str, run: str | None) -> SessionEvent:
        return SessionEvent(id=name, message=name, task_id=run, source=EventSource.USER)

    recorded = [
        e("start", None),
        e("o1", "outer"),
        e("a1", "a"),
        e("b1", "b"),
        e("a2", "a"),
        e("x1", "loop-1"),
        e("o2", "outer"),
        e("b2", "b"),
        e("unknown", "gone"),
        e("end", None),
        e("x2", "loop-2"),
    ]
    ordered = [ev.id for ev in events_in_run_order(recorded, runs)]
    # Runs whose ancestry loops are taken as outermost; unknown runs keep together too.
    assert ordered == ["start", "o1", "a1", "a2", "b1", "b2", "o2", "x1", "unknown", "end", "x2"]
    # One run at a time: the order as recorded.
    plain = [e("1", "outer"), e("2", "outer"), e("3", None)]
    assert events_in_run_order(plain, runs) == plain
    assert EventType.MESSAGE  # events of any type keep their place


def test_reused_call_ids_link_within_their_run() -> None:
    """``call_0`` in every reply of three interleaved runs: each result folds
    under its own run's latest reply, in the prompt and in ``show``."""
    runs = [SessionRun(id=a, name=a) for a in AGENTS]
    events: list[SessionEvent] = []
    for step in range(2):
        for agent in AGENTS:
            reply = {"content": None, "tool_calls": [{"id": "call_0", "name": "lookup"}]}
            events.append(SessionEvent(message=reply, task_id=agent, source=EventSource.LLM))
        for agent in AGENTS:
            record = {"tool_name": "lookup", "call_id": "call_0", "result": f"{agent}-r{step}"}
            events.append(
                SessionEvent(
                    message=record, task_id=agent, type=EventType.TOOL_CALL, source=EventSource.TOOL
                )
            )
    session = Session(id="s", runs=runs, events=events)
    prompt = build_prompt_from_session(session)
    pairs = [(m["role"], str(m.get("content"))) for m in prompt]
    expected = [
        pair
        for agent in AGENTS
        for step in range(2)
        for pair in (("assistant", "None"), ("tool", f"{agent}-r{step}"))
    ]
    assert pairs == expected
    shown = render_show(session)
    for agent in AGENTS:
        assert shown.count(f"→ {agent}-r") == 2
