"""``session``: makes a session current (and a child of the current one)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload
from uuid import uuid4

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span

from a2a_session_manager.sdk._runtime import RUNTIME
from a2a_session_manager.sdk._scoped import NO_RESULT, Active, Scoped
from a2a_session_manager.sdk._spans import end_scope, span_name
from a2a_session_manager.storage.errors import validate_session_id
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._context import (
    make_scope,
    scope_in,
    with_scope,
    with_session_baggage,
)
from a2a_session_manager.telemetry._guard import internal_errors
from a2a_session_manager.telemetry._json import to_json_text

F = TypeVar("F", bound=Callable[..., Any])


class ActiveSession(Active):
    """The session in progress (what ``with session(...) as s`` gives)."""

    __slots__ = ("_span", "id", "parent_id")

    def __init__(self, ctx: Context, span: Span | None, session_id: str, parent_id: str | None):
        super().__init__(ctx)
        self._span = span
        self.id = session_id
        self.parent_id = parent_id

    def finish(self, exc: BaseException | None, result: Any = NO_RESULT) -> None:
        span = self._span
        if span is None:
            return
        end_scope(span, exc, readable_on_return=True)


class SessionScope(Scoped):
    """What ``session(...)`` returns: a context manager and a decorator."""

    def __init__(
        self,
        session_id: str | None,
        properties: Mapping[str, Any] | None,
        parent_id: str | None,
        parent_context: Context | None,
    ) -> None:
        super().__init__()
        self._session_id = validate_session_id(session_id) if session_id is not None else None
        self._parent_id = validate_session_id(parent_id) if parent_id is not None else None
        self._parent_context = parent_context
        self._properties_json: str | None = None
        if properties:
            with internal_errors("serialising session properties"):
                self._properties_json = to_json_text(dict(properties))

    def _open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> Active:
        session_id = self._session_id or uuid4().hex
        parent = self._parent_context if self._parent_context is not None else context.get_current()
        parent_id = self._parent_id
        if parent_id is None:
            enclosing = scope_in(parent)
            if enclosing is not None and enclosing.session_id != session_id:
                parent_id = enclosing.session_id
        tracer = RUNTIME.tracer
        span: Span | None = None
        ctx = parent
        if tracer is not None:
            attributes: dict[str, Any] = {
                semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_SESSION,
                semconv.SESSION_ID: session_id,
                semconv.GEN_AI_CONVERSATION_ID: session_id,
            }
            if parent_id is not None:
                attributes[semconv.A2A_SESSION_PARENT_ID] = parent_id
            if self._properties_json is not None:
                attributes[semconv.A2A_SESSION_PROPERTIES] = self._properties_json
            span = tracer.start_span(
                span_name("session", session_id), parent, attributes=attributes
            )
            ctx = trace.set_span_in_context(span, parent)
        ctx = with_session_baggage(session_id, ctx)
        ctx = with_scope(make_scope(session_id, None), ctx)
        return ActiveSession(ctx, span, session_id, parent_id)


@overload
def session(session_id: F, *, properties: None = None, parent_id: None = None) -> F: ...
@overload
def session(
    session_id: str | None = None,
    *,
    properties: Mapping[str, Any] | None = None,
    parent_id: str | None = None,
    context: Context | None = None,
) -> SessionScope: ...
def session(
    session_id: Any = None,
    *,
    properties: Mapping[str, Any] | None = None,
    parent_id: str | None = None,
    context: Context | None = None,
) -> Any:
    """Make a session current: ``with session("s-42", properties={...}) as s:``.

    Without an id each entry (or decorated call) starts a new session. A
    session opened inside another, or under a context extracted from another
    process (``context=asm.extract(headers)``), becomes its child. When the
    block or decorated call returns, everything recorded inside is stored.
    Raises ``InvalidSessionIdError`` for ids no store can hold.
    """
    if callable(session_id):
        return SessionScope(None, None, None, None)(session_id)
    return SessionScope(session_id, properties, parent_id, context)
