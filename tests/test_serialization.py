"""Batch parsing of stored events: strict for what we wrote, lax for older or
hand-written data, an error for data that is not an event."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from a2a_session_manager.models import EventSource, SessionEvent, TokenUsage
from a2a_session_manager.storage.serialization import events_from_json_lines, to_json


def test_what_we_write_round_trips() -> None:
    events = [
        SessionEvent(message={"nested": ["ü", 1, None]}, source=EventSource.USER),
        SessionEvent(
            message="hi",
            token_usage=TokenUsage(prompt_tokens=3, completion_tokens=4, model="gpt-4o"),
            type="my_custom_type",
        ),
    ]
    parsed = events_from_json_lines([to_json(e) for e in events])
    assert [e.model_dump() for e in parsed] == [e.model_dump() for e in events]


def test_data_that_needs_coercion_still_reads() -> None:
    line = (
        '{"id": "e1", "timestamp": "2025-01-01T00:00:00", "message": "old",'
        ' "source": "llm", "token_usage": {"prompt_tokens": "12", "model": "gpt-4o"}}'
    )
    (event,) = events_from_json_lines([line])
    assert event.token_usage is not None and event.token_usage.prompt_tokens == 12
    assert event.timestamp.tzinfo is not None  # naive times are read as UTC


def test_data_that_is_not_an_event_raises() -> None:
    with pytest.raises(ValidationError):
        events_from_json_lines(['{"id": "e1", "source": "nobody-knows-this-source"}'])
