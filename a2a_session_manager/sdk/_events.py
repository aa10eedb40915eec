"""``record_event``: an event of the current session, as an ``a2a_session_manager.event``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import uuid4

from opentelemetry import context

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.sdk._runtime import RUNTIME
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._context import scope_in
from a2a_session_manager.telemetry._guard import internal_errors
from a2a_session_manager.telemetry._json import to_json_text


def record_event(
    message: Any,
    *,
    source: EventSource | str = EventSource.SYSTEM,
    type: EventType | str = EventType.MESSAGE,
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """Record an event in the current session (and run); returns the event's id.

    The event travels as an ``a2a_session_manager.event`` span event on a zero-length span of
    its own, started in the current context. It ends at once, so the event
    keeps its place in the session's order even when the enclosing run or
    tool span is still open for a long time.
    """
    event_id = uuid4().hex
    tracer = RUNTIME.tracer
    if tracer is None:
        return event_id
    with internal_errors("recording an event"):
        parent = context.get_current()
        scope = scope_in(parent)
        span = tracer.start_span(
            semconv.A2A_EVENT, parent, attributes=scope.attributes if scope is not None else None
        )
        event_attributes = {
            semconv.A2A_EVENT_ID: event_id,
            semconv.A2A_EVENT_MESSAGE: to_json_text(message),
            semconv.A2A_EVENT_SOURCE: str(getattr(source, "value", source)),
            semconv.A2A_EVENT_TYPE: str(getattr(type, "value", type)),
        }
        if metadata:
            event_attributes[semconv.A2A_EVENT_METADATA] = to_json_text(dict(metadata))
        span.add_event(semconv.A2A_EVENT, event_attributes)
        span.end()
    return event_id
