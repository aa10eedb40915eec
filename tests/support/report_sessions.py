"""Sessions shaped like what the SDK records, written into a real store, for the
CLI and HTML report tests (and the README screenshot)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from a2a_session_manager.models import (
    EventSource,
    EventType,
    RunStatus,
    Session,
    SessionEvent,
    SessionRun,
    TokenUsage,
)
from a2a_session_manager.storage.base import SessionStore

T0 = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
HOSTILE = '<script>document.title="PWNED"</script><img src=x onerror="document.title=\'PWNED\'">'


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _run(run_id: str, name: str, start: float, end: float | None, **fields: Any) -> SessionRun:
    status = fields.pop("status", RunStatus.COMPLETED if end is not None else RunStatus.RUNNING)
    return SessionRun(
        id=run_id,
        name=name,
        status=status,
        started_at=at(start),
        ended_at=None if end is None else at(end),
        **fields,
    )


def _llm(
    event_id: str,
    when: float,
    run_id: str,
    message: Any,
    prompt: int,
    completion: int,
    model: str = "gpt-4o-mini",
    duration_ms: float | None = None,
) -> SessionEvent:
    return SessionEvent(
        id=event_id,
        timestamp=at(when),
        message=message,
        task_id=run_id,
        source=EventSource.LLM,
        type=EventType.MESSAGE,
        metadata={} if duration_ms is None else {"duration_ms": duration_ms},
        token_usage=TokenUsage(
            prompt_tokens=prompt, completion_tokens=completion, model=model, source="provider"
        ),
    )


def _tool(
    event_id: str,
    when: float,
    run_id: str,
    parent: str,
    name: str,
    call_id: str,
    arguments: Any,
    result: Any,
    error: str | None = None,
    duration_ms: float = 0.0,
) -> SessionEvent:
    return SessionEvent(
        id=event_id,
        timestamp=at(when),
        message={
            "tool_name": name,
            "call_id": call_id,
            "arguments": arguments,
            "result": result,
            "error": error,
        },
        task_id=run_id,
        source=EventSource.TOOL,
        type=EventType.TOOL_CALL,
        metadata={"parent_event_id": parent, "duration_ms": duration_ms},
    )


def _user(event_id: str, when: float, run_id: str | None, text: Any) -> SessionEvent:
    return SessionEvent(
        id=event_id, timestamp=at(when), message=text, task_id=run_id, source=EventSource.USER
    )


@dataclass(frozen=True)
class SampleIds:
    parent: str = "trip-planner"
    child: str = "flight-search"
    grandchild: str = "seat-picker"
    other: str = "older-session"


def build_trip_planner(session_id: str = "trip-planner", hostile: bool = True) -> Session:
    """A parent agent with nested runs, tool calls (one failing), two models
    (one without a known price) and, optionally, hostile content."""
    session = Session(id=session_id)
    session.metadata.created_at = at(0)
    session.metadata.properties = {"user": "ada", "channel": "web"}
    session.runs = [
        _run("run-plan", "planner", 0.0, 6.4),
        _run("run-weather", "weather-agent", 0.9, 2.3, parent_run_id="run-plan"),
        _run(
            "run-book",
            "booking",
            2.6,
            5.9,
            parent_run_id="run-plan",
            status=RunStatus.FAILED,
            error="PaymentDeclined: card expired",
        ),
    ]
    events = [
        _user("e-user", 0.05, "run-plan", "Plan a weekend in Lisbon: weather, flights, hotel."),
        _llm(
            "e-ask",
            0.1,
            "run-plan",
            {
                "content": None,
                "tool_calls": [
                    {"id": "call_w", "name": "get_weather", "arguments": '{"city": "Lisbon"}'},
                    {"id": "call_h", "name": "find_hotel", "arguments": '{"city": "Lisbon"}'},
                ],
            },
            prompt=412,
            completion=38,
            duration_ms=780,
        ),
        _tool(
            "e-weather",
            1.0,
            "run-weather",
            "e-ask",
            "get_weather",
            "call_w",
            {"city": "Lisbon"},
            {"forecast": "sunny", "high_c": 24, "low_c": 16},
            duration_ms=1250,
        ),
        _tool(
            "e-hotel",
            2.7,
            "run-book",
            "e-ask",
            "find_hotel",
            "call_h",
            {"city": "Lisbon"},
            None,
            error="TimeoutError: hotel API did not answer in 3 s",
            duration_ms=3000,
        ),
        _llm(
            "e-answer",
            5.9,
            "run-plan",
            "Lisbon will be sunny (16 to 24 °C). I could not book a hotel: the hotel "
            "service timed out. Flights are being searched in a sub-agent.",
            prompt=655,
            completion=61,
            duration_ms=450,
        ),
        _llm(
            "e-local",
            6.0,
            "run-plan",
            "Summary stored for later turns.",
            prompt=120,
            completion=12,
            model="local-llama-3-8b",
            duration_ms=200,
        ),
        # Seed-style tool call recorded by hand, with no link to an LLM message.
        SessionEvent(
            id="e-seed-tool",
            timestamp=at(6.2),
            message={"tool": "currency", "arguments": {"from": "EUR"}, "result": 1.08},
            task_id="run-plan",
            source=EventSource.TOOL,
            type=EventType.TOOL_CALL,
        ),
        SessionEvent(
            id="e-note",
            timestamp=at(6.3),
            message={"note": "custom event", "items": [1, 2, 3]},
            type="audit_note",
            source=EventSource.SYSTEM,
        ),
    ]
    if hostile:
        events.append(_user("e-hostile", 6.35, "run-plan", HOSTILE))
    for event in events:
        session.add_event(event)
    session.metadata.updated_at = at(6.4)
    return session


def build_flight_search(session_id: str, parent_id: str) -> Session:
    session = Session(id=session_id, parent_id=parent_id)
    session.metadata.created_at = at(3)
    session.runs = [_run("run-flights", "flight-agent", 3.0, 4.6)]
    for event in [
        _user("f-user", 3.0, "run-flights", "Find flights to Lisbon on Friday."),
        _llm(
            "f-ask",
            3.1,
            "run-flights",
            {
                "content": "Searching.",
                "tool_calls": [
                    {"id": "call_f", "name": "search_flights", "arguments": '{"to": "LIS"}'}
                ],
            },
            prompt=210,
            completion=20,
            model="gpt-4o",
            duration_ms=500,
        ),
        _tool(
            "f-tool",
            3.7,
            "run-flights",
            "f-ask",
            "search_flights",
            "call_f",
            {"to": "LIS"},
            [{"flight": "TP1351", "price_eur": 129}],
            duration_ms=600,
        ),
        _llm("f-answer", 4.4, "run-flights", "TP1351 at 129 EUR.", 260, 9, "gpt-4o", 200),
    ]:
        session.add_event(event)
    session.metadata.updated_at = at(4.6)
    return session


def fill_store(store: SessionStore, ids: SampleIds = SampleIds()) -> SampleIds:
    """Four sessions: parent → child → grandchild, and an older unrelated one."""
    parent = build_trip_planner(ids.parent)
    child = build_flight_search(ids.child, ids.parent)
    grandchild = Session(id=ids.grandchild, parent_id=ids.child)
    grandchild.metadata.created_at = at(4)
    grandchild.add_event(_user("g-user", 4.1, None, "Pick an aisle seat."))
    grandchild.metadata.updated_at = at(4.2)
    other = Session(id=ids.other)
    other.metadata.created_at = T0 - timedelta(days=2)
    other.add_event(_user("o-user", -86400 * 2, None, "hello"))
    other.metadata.updated_at = T0 - timedelta(days=1)
    parent.add_child(ids.child)
    child.add_child(ids.grandchild)
    for session in (parent, child, grandchild, other):
        store.save(session)
    return ids
