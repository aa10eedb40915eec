"""One provider call, one recorded chat span.

Several GenAI instrumentations may wrap the same client method (ours, the
official ``opentelemetry-instrumentation-openai-v2``, OpenLLMetry's ...); each
makes a chat span for the same call, and recording them all would count the
call, its tokens and its cost twice. The session records one of them: ours
when ours is among them, else the one made first (the outer one). The
decision is taken before any of them ends, so the processor simply does not
queue the others.

Every chat span that starts becomes "the last chat span started" in its
context (a context variable: per thread, per asyncio task). The chat spans of
one call are told apart from those of separate calls by that span:

* Nested. Every instrumentation we know makes its chat span current while the
  client works (ours attaches it, the official one through
  ``opentelemetry-util-genai``'s ``attach``, OpenLLMetry's chat wrappers with
  ``use_span``), so the inner span starts as a child of the last chat span
  started, still live. Separate calls never nest: a chat span is current only
  during its own call.
* Backdated. OpenLLMetry's Responses API wrapper starts its span only after
  the call returned, with a start time taken before the call, and not as a
  child of the spans made inside it: it starts earlier than the last chat
  span started, under the same parent, yet is made after it, so it wraps that
  span's call.

OpenLLMetry's Responses spans are named chat spans only when they end, so a
span that starts in one of these positions without being a chat span yet is
noted, and judged when it ends (a chat span of the same request model).
State is kept only for spans in these positions, in bounded dicts, and
forgotten when they end.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, Span

from a2a_session_manager.exporters._foreign_chat import is_foreign_chat
from a2a_session_manager.exporters._mapping import span_attributes
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._guard import log_internal_error
from a2a_session_manager.telemetry._tracers import is_own_tracer

_LIMIT = 4096  # spans of calls with more than one chat span, in flight at once


@dataclass(slots=True)
class _Call:
    """The chat spans of one provider call: which of them is recorded."""

    winner: int  # span id
    own: bool


# The last chat span started in this context (a thread, or an asyncio task).
_last_chat: ContextVar[Span | None] = ContextVar("a2a_last_chat_span", default=None)


def _is_own(span: Any) -> bool:
    scope = getattr(span, "instrumentation_scope", None)
    return scope is not None and is_own_tracer(scope.name)


def _parent_id(span: ReadableSpan) -> int:
    parent = span.parent
    return parent.span_id if parent is not None else 0


def _nested_in(span: Span, last: Span) -> bool:
    """``span`` starts as a child of the live chat span ``last``."""
    parent = span.parent
    return (
        parent is not None
        and last.is_recording()  # first: the last chat span has usually ended
        and parent.span_id == last.get_span_context().span_id
    )


def _wraps(span: Span, last: Span) -> bool:
    """``span``, made after ``last``, starts before it under the same parent:
    it was started after the call it wraps (backdated)."""
    start_time, last_start = span.start_time, last.start_time
    return (
        span is not last
        and start_time is not None
        and last_start is not None
        and start_time <= last_start
        and _parent_id(span) == _parent_id(last)
        and span.get_span_context().trace_id == last.get_span_context().trace_id
    )


def _request_model(span: Any) -> Any:
    return (getattr(span, "attributes", None) or {}).get(semconv.GEN_AI_REQUEST_MODEL)


class DuplicateChats:
    """Decides, for the processor, which chat span of a provider call is recorded."""

    def __init__(self, limit: int = _LIMIT) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._calls: dict[int, _Call] = {}  # span id -> its call (nested spans only)
        # span id -> the chat span whose call it is in, if it turns out to be a chat span
        self._pending: dict[int, Any] = {}

    def on_start(self, span: Span, own: bool, own_chat: bool) -> None:
        """Place ``span`` (just started; ``own``: made by our tracers;
        ``own_chat``: by our chat tracers) among the chat spans in flight."""
        if own and not own_chat:
            return  # runs, tools, sessions
        try:
            self._on_start(span, own)
        except Exception:  # runs inside the user's call: never raise into it
            log_internal_error("comparing a chat span with the calls in flight")

    def _on_start(self, span: Span, own: bool) -> None:
        # Ours are told by the tracer, not the attributes: our chat spans may
        # get theirs just after they start (``telemetry._fast_spans``).
        chat = own or is_foreign_chat(span_attributes(span))
        last = _last_chat.get()
        if last is not None and not (_nested_in(span, last) or (not own and _wraps(span, last))):
            last = None
        if chat:
            if last is not None:
                self._join(last, span, own)
            _last_chat.set(span)
        elif last is not None:
            # Not (yet) a chat span: some instrumentations name theirs when it ends.
            with self._lock:
                self._remember(self._pending, span.get_span_context().span_id, last)

    def is_duplicate(self, span: ReadableSpan) -> bool:
        """Whether ``span`` (ended) repeats a call another chat span records.
        Called once per ended span: what was kept about it is forgotten."""
        if not self._calls and not self._pending:
            return False
        try:
            context = span.context
            if context is None:
                return False
            span_id: int = context.span_id
            call = self._calls.pop(span_id, None)
            if call is not None:
                return call.winner != span_id
            other = self._pending.pop(span_id, None)
            if other is None or not is_foreign_chat(span.attributes or {}):
                return False
            model, other_model = _request_model(span), _request_model(other)
            return bool(model is None or other_model is None or model == other_model)
        except Exception:
            log_internal_error("comparing a chat span with the calls in flight")
            return False

    def _join(self, other: Any, span: Span, own: bool) -> None:
        """``span`` records the same call as the chat span ``other``."""
        other_own = _is_own(other)
        if own and other_own:
            return  # ours never wraps a call twice: two calls, not a duplicate
        other_id = other.get_span_context().span_id
        span_id = span.get_span_context().span_id
        with self._lock:
            call = self._calls.get(other_id)
            if call is None:
                call = _Call(other_id, other_own)
                if other.is_recording():  # an ended span is not asked about again
                    self._remember(self._calls, other_id, call)
            if own and not call.own:
                call.winner, call.own = span_id, True
            self._remember(self._calls, span_id, call)

    def _remember(self, table: dict[int, Any], key: int, value: Any) -> None:
        table[key] = value
        while len(table) > self._limit:  # spans that never end must not grow it
            del table[next(iter(table))]
