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

- a function span is an ``execute_tool`` span (``_tools``): arguments,
  result, and the error when the tool raised; the session links it to the LLM
  event that asked for it (by name and arguments: the SDK's span has no call id);
- a guardrail that trips fails the agent runs it stops (``GuardrailTripped``:
  the tripwire exception reaches the caller). If no model call had started in
  the trace, the run's user input is recorded first (``_run_input``): no
  request carries it.

An agent span ended while its task is being cancelled (``run_streamed``'s
``cancel()``, a cancelled ``Runner.run``) ends its run cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from agents.tracing import TracingProcessor
from agents.tracing.span_data import (
    AgentSpanData,
    FunctionSpanData,
    GenerationSpanData,
    GuardrailSpanData,
    HandoffSpanData,
    ResponseSpanData,
)

from a2a_session_manager.instrumentation.openai_agents._run_input import current_user_texts
from a2a_session_manager.instrumentation.openai_agents._tools import record_function_tool
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


class GuardrailTripped(AgentRunFailed):
    """A guardrail's tripwire stopped the agent's run."""


class _Trace:
    """What the processor knows of one SDK trace."""

    __slots__ = ("model_called", "tripped", "user_texts")

    def __init__(self, user_texts: list[str]) -> None:
        self.user_texts = user_texts  # the run's input, until recorded or seen by a model call
        self.model_called = False
        # The guardrail that tripped: the run stops, so every agent span of the
        # trace still open ends failed (the guardrail's parent may be a turn span).
        self.tripped: str | None = None


class SessionTracingProcessor(TracingProcessor):  # type: ignore[misc]
    def __init__(self) -> None:
        self.enabled = True
        self._open: dict[str, Any] = {}  # trace or span id → the scope entered for it
        self._traces: dict[str, _Trace] = {}
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
        failure: BaseException | None = None
        if isinstance(error, BaseException):
            failure = error
        elif error:
            message = error.get("message") if isinstance(error, dict) else str(error)
            failure = AgentRunFailed(str(message))
        elif _cancelling():
            failure = asyncio.CancelledError()
        try:
            scope.__exit__(None if failure is None else type(failure), failure, None)
        except ValueError:  # ended in another context than it started (a streamed run)
            logger.debug("an Agents SDK scope ended in another context", exc_info=True)

    def on_trace_start(self, trace: Any) -> None:
        if not self.enabled:
            return
        with internal_errors("opening the Agents SDK trace's session"):
            with self._lock:
                self._traces[trace.trace_id] = _Trace(current_user_texts())
            if scope_in() is not None:
                return  # a session is current: the run records into it
            session_id = getattr(trace, "group_id", None) or trace.trace_id
            self._enter(trace.trace_id, session(str(session_id)))

    def on_trace_end(self, trace: Any) -> None:
        with internal_errors("closing the Agents SDK trace's session"):
            with self._lock:
                self._traces.pop(trace.trace_id, None)
            self._exit(trace.trace_id)

    def on_span_start(self, span: Any) -> None:
        if not self.enabled:
            return
        data = span.span_data
        if isinstance(data, AgentSpanData):
            with internal_errors("opening an Agents SDK agent run"):
                self._enter(span.span_id, run(str(data.name)))
        elif isinstance(data, GenerationSpanData | ResponseSpanData):
            trace = self._traces.get(span.trace_id)
            if trace is not None:
                trace.model_called = True  # its request carries the input

    def on_span_end(self, span: Any) -> None:
        data = span.span_data
        with internal_errors("recording an Agents SDK span"):
            if isinstance(data, AgentSpanData):
                error = span.error
                trace = self._traces.get(span.trace_id)
                if not error and trace is not None and trace.tripped is not None:
                    error = GuardrailTripped(f"guardrail {trace.tripped!r} tripped")
                self._exit(span.span_id, error)
            elif not self.enabled:
                return
            elif isinstance(data, FunctionSpanData):
                record_function_tool(span)
            elif isinstance(data, HandoffSpanData):
                handoff = {"from": data.from_agent, "to": data.to_agent}
                record_event(handoff, source=EventSource.SYSTEM, type=HANDOFF_EVENT)
            elif isinstance(data, GuardrailSpanData):
                self._guardrail(span, data)

    def _guardrail(self, span: Any, data: GuardrailSpanData) -> None:
        triggered = bool(data.triggered)
        if triggered:
            self._record_unsent_input(span.trace_id)
            trace = self._traces.get(span.trace_id)
            if trace is not None:
                trace.tripped = str(data.name)
        result = {"name": data.name, "triggered": triggered}
        record_event(result, source=EventSource.SYSTEM, type=GUARDRAIL_EVENT)

    def _record_unsent_input(self, trace_id: str) -> None:
        """The run's user input, when no model call of the trace carries it."""
        with self._lock:
            trace = self._traces.get(trace_id)
            if trace is None or trace.model_called:
                return
            texts, trace.user_texts = trace.user_texts, []
        for text in texts:
            record_event(text, source=EventSource.USER)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


def _cancelling() -> bool:
    """Whether the current asyncio task is being cancelled."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop: a synchronous caller
        return False
    return task is not None and task.cancelling() > 0
