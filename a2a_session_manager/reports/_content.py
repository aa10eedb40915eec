"""What an event says, whatever shape its ``message`` has.

Payloads are read through :mod:`a2a_session_manager.models.payloads` (the one
definition of LLM messages, tool calls and instructions, old shapes
included); applications may store any other JSON value. Every reader of
events (text, JSON, HTML) goes through here so they agree on what an event
means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.payloads import (
    Instructions,
    LLMMessage,
    ToolCallRecord,
    ToolCallRequest,
    read_instructions,
    read_llm_message,
    read_tool_call,
)
from a2a_session_manager.models.session_event import SessionEvent


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


def message_text(event: SessionEvent) -> str:
    """The human-readable text of a non-tool event (empty when it has none)."""
    if event.type == EventType.INSTRUCTIONS:
        return instructions_summary(read_instructions(event.message))
    if event.source == EventSource.LLM:
        return to_display(read_llm_message(event.message).content)
    message = event.message
    if isinstance(message, dict) and "content" in message:
        return to_display(message.get("content"))
    return to_display(message)


def llm_message(event: SessionEvent) -> LLMMessage | None:
    """The payload of an LLM event (``None`` for other events)."""
    if event.source != EventSource.LLM or event.type == EventType.TOOL_CALL:
        return None
    return read_llm_message(event.message)


def provider_call(event: SessionEvent) -> LLMMessage | None:
    """The payload of an LLM event that records a provider call; ``None`` for
    other events, and for assistant messages that only came in a request or
    from another agent (``metadata["origin"]``: ``"request"``, ``"a2a"``)."""
    if event.metadata.get("origin") is not None:
        return None
    return llm_message(event)


def requested_tool_calls(event: SessionEvent) -> list[ToolCallRequest]:
    """Tool calls an LLM message asked for."""
    message = llm_message(event)
    return [] if message is None or message.interrupted else message.tool_calls


def tool_call_record(event: SessionEvent) -> ToolCallRecord:
    """The tool call a TOOL_CALL event recorded, tolerant of older shapes."""
    record = read_tool_call(event.message)
    if not record.tool_name:
        name = event.metadata.get("tool_name", "tool")
        record = record.model_copy(update={"tool_name": str(name)})
    return record


def call_failure(message: LLMMessage) -> str:
    """How a call was interrupted and/or failed, in a few words ("" when it
    did neither): ``stream cut …; failed: <type> <status>: <message>``."""
    parts: list[str] = []
    if message.interrupted == "cut":
        parts.append("stream cut before it ended")
    elif message.interrupted == "abandoned":
        parts.append("stream abandoned by the caller")
    if message.error is not None:
        error = message.error
        status = f" {error.status_code}" if error.status_code is not None else ""
        text = f"failed: {error.type}{status}"
        parts.append(f"{text}: {error.message}" if error.message else text)
    return "; ".join(parts)


def instructions_summary(instructions: Instructions) -> str:
    """One line for an INSTRUCTIONS event: its first system text and what else it holds."""
    texts = [to_display(m.content) for m in instructions.system]
    parts = [f"instructions: {texts[0]}" if texts else "instructions"]
    extra = []
    if len(texts) > 1:
        extra.append(f"{len(texts)} system messages")
    if instructions.parameters:
        extra.append(", ".join(f"{k}={to_display(v)}" for k, v in instructions.parameters.items()))
    if instructions.tools:
        names = [_tool_name(t) for t in instructions.tools]
        extra.append("tools: " + ", ".join(names))
    return parts[0] + (f" ({'; '.join(extra)})" if extra else "")


def _tool_name(definition: dict[str, Any]) -> str:
    function = definition.get("function")
    source = function if isinstance(function, dict) else definition
    return str(source.get("name") or "?")


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
