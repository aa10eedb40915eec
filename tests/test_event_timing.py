"""LLM and tool events carry when their call started and how long it took,
so timelines (CLI, HTML report) can draw them."""

from __future__ import annotations

from datetime import datetime

import a2a_session_manager as asm
from a2a_session_manager.models import EventType
from a2a_session_manager.reports._content import event_timing
from tests.support.otel import Recorder


def test_tool_events_record_start_and_duration(recorder: Recorder) -> None:
    @asm.tool
    def lookup(key: str) -> str:
        return key.upper()

    with asm.session("timed"), asm.run("agent"):
        lookup("a")

    session = recorder.store.get("timed")
    assert session is not None
    (event,) = [e for e in session.events if e.type == EventType.TOOL_CALL]
    started = datetime.fromisoformat(event.metadata["started_at"])
    assert started <= event.timestamp
    assert event.metadata["duration_ms"] >= 0
    timing = event_timing(event)
    assert timing.start == started
    assert timing.duration_ms == event.metadata["duration_ms"]
