"""What an event says, whatever shape its ``message`` has.

LLM events recorded by the SDK hold a string or ``{"content", "tool_calls"}``;
TOOL_CALL events hold ``{"tool_name", "call_id", "arguments", "result",
"error"}`` (or the seed's ``{"tool", "arguments", "result"}``); applications
may store any JSON value. Every reader of events (text, JSON, HTML) goes
through here so they agree on what an event means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.session_event import SessionEvent


@dataclass(frozen=True)
class RequestedToolCall:
    """A tool call that an LLM message asked for."""

    call_id: str | None
    name: str
    arguments: Any


@dataclass(frozen=True)
class ToolCallRecord:
    """What a TOOL_CALL event recorded."""

    name: str
    call_id: str | None
    arguments: Any
    result: Any
    error: str | None


def type_name(event: SessionEvent) -> str:
    return event.type.value if isinstance(event.type, EventType) else str(event.type)


def source_name(event: SessionEvent) -> str:
    return event.source.value if isinstance(event.source, EventSource) else str(event.source)


def is_tool_call(event: SessionEvent) -> bool:
    return event.type == EventType.TOOL_CALL


def to_display(value: Any) -> str:
    """Text for any JSON-ish value: strings as they are, the rest as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except ValueError:  # circular structures cannot come from a store, but be safe
        return repr(value)


def _parse_arguments(arguments: Any) -> Any:
    # OpenAI sends arguments as JSON text; show them as the value they encode.
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def message_text(event: SessionEvent) -> str:
    """The human-readable text of a non-tool event (empty when it has none)."""
    message = event.message
    if isinstance(message, dict) and ("content" in message or "tool_calls" in message):
        return to_display(message.get("content"))
    return to_display(message)


def requested_tool_calls(event: SessionEvent) -> list[RequestedToolCall]:
    """Tool calls an LLM message asked for (OpenAI or GenAI-parts shapes)."""
    message = event.message
    if not isinstance(message, dict):
        return []
    raw = message.get("tool_calls")
    if not isinstance(raw, list):
        function_call = message.get("function_call")  # OpenAI's legacy single call
        raw = [function_call] if isinstance(function_call, dict) else []
    calls: list[RequestedToolCall] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        nested = item.get("function")
        function: dict[str, Any] = nested if isinstance(nested, dict) else item
        name = function.get("name") or item.get("name") or "?"
        calls.append(
            RequestedToolCall(
                call_id=_opt_str(item.get("id")),
                name=str(name),
                arguments=_parse_arguments(function.get("arguments")),
            )
        )
    return calls


def tool_call_record(event: SessionEvent) -> ToolCallRecord:
    """The tool call a TOOL_CALL event recorded, tolerant of older shapes."""
    message = event.message
    if not isinstance(message, dict):
        return ToolCallRecord(
            name=str(event.metadata.get("tool_name", "tool")),
            call_id=_opt_str(event.metadata.get("call_id")),
            arguments=None,
            result=message,
            error=None,
        )
    name = message.get("tool_name") or message.get("tool") or message.get("name") or "tool"
    error = message.get("error")
    return ToolCallRecord(
        name=str(name),
        call_id=_opt_str(message.get("call_id") or message.get("id")),
        arguments=_parse_arguments(message.get("arguments")),
        result=message.get("result"),
        error=None if error in (None, "") else to_display(error),
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def aware(moment: datetime) -> datetime:
    """``moment`` with a time zone (naive times are taken as UTC), so all compare."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return aware(value)
    if isinstance(value, str):
        try:
            return aware(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class EventTiming:
    start: datetime
    duration_ms: float | None


def event_timing(event: SessionEvent) -> EventTiming:
    """When an event started and how long it took, when the recorder said so.

    ``metadata`` may carry ``start_time``/``end_time`` (or ``started_at``/
    ``ended_at``), which win, or ``duration_ms`` with ``started_at`` (as the
    exporter records LLM and tool calls) or alone, the event's timestamp then
    taken as its start. Events without either are instants.
    """
    meta = event.metadata
    start = _as_datetime(meta.get("start_time") or meta.get("started_at"))
    end = _as_datetime(meta.get("end_time") or meta.get("ended_at"))
    if start is not None and end is not None and end >= start:
        return EventTiming(start, (end - start) / timedelta(milliseconds=1))
    duration = meta.get("duration_ms")
    if isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0:
        # The exporter records the call's start with its duration (the event's
        # timestamp is when the call ended).
        return EventTiming(start or aware(event.timestamp), float(duration))
    return EventTiming(aware(event.timestamp), None)
