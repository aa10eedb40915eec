"""A tracing processor for the OpenAI Agents SDK: its traces and spans → our session and runs.

The SDK reports what a run does to its tracing processors, in the task that
does it: a trace per ``Runner.run`` / ``run_streamed``, an agent span per
agent turn, handoff, guardrail and function spans. This processor turns them
into the session model's scopes while they are open:

- the trace opens ``asm.session`` (its ``group_id`` as the session id, else
  the trace id), unless a session is already current: then the run records
  into that one;
- each agent span opens ``asm.run(agent name)``, so the LLM calls the
  instrumented ``openai`` client makes inside it are LLM events of that run
  (recorded once: the SDK's own generation / response spans are not ours to
  record again);
- a handoff is a ``handoff`` event ``{"from", "to"}``; a guardrail result a
  ``guardrail`` event ``{"name", "triggered"}``.

Function tools are recorded from the conversation itself: the model's call
and, in the next request, its result, linked by call id (the SDK's function
span carries no call id, so recording it too would record the call twice).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from agents.tracing import TracingProcessor
from agents.tracing.span_data import AgentSpanData, GuardrailSpanData, HandoffSpanData

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.sdk._events import record_event
from a2a_session_manager.sdk._run import run
from a2a_session_manager.sdk._session import session
from a2a_session_manager.telemetry._context import scope_in
from a2a_session_manager.telemetry._guard import internal_errors

logger = logging.getLogger(__name__)

HANDOFF_EVENT = "handoff"
GUARDRAIL_EVENT = "guardrail"


class AgentRunFailed(Exception):
    """An agent span that ended with the SDK's error: the run's recorded error."""


class SessionTracingProcessor(TracingProcessor):  # type: ignore[misc]
    def __init__(self) -> None:
        self.enabled = True
        self._open: dict[str, Any] = {}  # trace or span id → the scope entered for it
        self._lock = threading.Lock()

    def _enter(self, key: str, scope: Any) -> None:
        scope.__enter__()
        with self._lock:
            self._open[key] = scope

    def _exit(self, key: str, error: Any = None) -> None:
        with self._lock:
            scope = self._open.pop(key, None)
        if scope is None:
            return
        failure = None
        if error:
            message = error.get("message") if isinstance(error, dict) else str(error)
            failure = AgentRunFailed(str(message))
        try:
            scope.__exit__(type(failure) if failure else None, failure, None)
        except ValueError:  # ended in another context than it started (a streamed run)
            logger.debug("an Agents SDK scope ended in another context", exc_info=True)

    def on_trace_start(self, trace: Any) -> None:
        if not self.enabled:
            return
        with internal_errors("opening the Agents SDK trace's session"):
            if scope_in() is not None:
                return  # a session is current: the run records into it
            session_id = getattr(trace, "group_id", None) or trace.trace_id
            self._enter(trace.trace_id, session(str(session_id)))

    def on_trace_end(self, trace: Any) -> None:
        with internal_errors("closing the Agents SDK trace's session"):
            self._exit(trace.trace_id)

    def on_span_start(self, span: Any) -> None:
        if not self.enabled:
            return
        data = span.span_data
        if isinstance(data, AgentSpanData):
            with internal_errors("opening an Agents SDK agent run"):
                self._enter(span.span_id, run(str(data.name)))

    def on_span_end(self, span: Any) -> None:
        data = span.span_data
        with internal_errors("recording an Agents SDK span"):
            if isinstance(data, AgentSpanData):
                self._exit(span.span_id, span.error)
            elif not self.enabled:
                return
            elif isinstance(data, HandoffSpanData):
                handoff = {"from": data.from_agent, "to": data.to_agent}
                record_event(handoff, source=EventSource.SYSTEM, type=HANDOFF_EVENT)
            elif isinstance(data, GuardrailSpanData):
                result = {"name": data.name, "triggered": bool(data.triggered)}
                record_event(result, source=EventSource.SYSTEM, type=GUARDRAIL_EVENT)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass
