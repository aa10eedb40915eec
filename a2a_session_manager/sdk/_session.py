"""``session``: makes a session current (and a child of the current one)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload
from uuid import uuid4

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span

from a2a_session_manager.models.hierarchy import ParentLink
from a2a_session_manager.sdk._runtime import RUNTIME
from a2a_session_manager.sdk._scoped import NO_RESULT, Active, Scoped
from a2a_session_manager.sdk._spans import end_scope, span_name
from a2a_session_manager.storage.errors import validate_session_id
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._context import (
    SCOPE_KEY,
    Scope,
    claim_link,
    make_scope,
    remote_claim,
    with_scope,
    with_session_baggage,
)
from a2a_session_manager.telemetry._guard import internal_errors
from a2a_session_manager.telemetry._json import to_json_text

F = TypeVar("F", bound=Callable[..., Any])


class ActiveSession(Active):
    """The session in progress (what ``with session(...) as s`` gives):
    ``s.id``, ``s.parent_id`` and ``s.parent_link`` (``REMOTE`` when a remote
    caller named the parent and the policy did not accept it)."""

    __slots__ = ("_children", "_children_lock", "_span", "id", "parent_id", "parent_link")

    def __init__(
        self,
        ctx: Context,
        span: Span | None,
        session_id: str,
        parent_id: str | None,
        parent_link: ParentLink = ParentLink.LOCAL,
    ):
        super().__init__(ctx)
        self._span = span
        self.id = session_id
        self.parent_id = parent_id
        self.parent_link = parent_link
        self._children: tuple[str, ...] = ()
        self._children_lock = threading.Lock()

    def add_child(self, session_id: str) -> None:
        """Link ``session_id`` as a child of this session, on this side.

        A session opened in another process under this one's context records
        this one as its parent, but never writes here; the caller links what
        it chose to trust (e.g. the id the remote agent answered with) so that
        ``descendants()`` and ``a2a-sessions tree`` show it. Stored when the
        session block ends. Raises ``InvalidSessionIdError`` for ids no store
        can hold.
        """
        validate_session_id(session_id)
        span = self._span
        if span is None or session_id == self.id:
            return
        with self._children_lock:
            if session_id in self._children:
                return
            self._children = (*self._children, session_id)
            with internal_errors("linking a child session"):
                span.set_attribute(semconv.A2A_SESSION_CHILD_IDS, self._children)

    def finish(self, exc: BaseException | None, result: Any = NO_RESULT) -> None:
        span = self._span
        if span is None:
            return
        end_scope(span, exc, readable_on_return=True)


class SessionScope(Scoped[ActiveSession]):
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

    def _open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> ActiveSession:
        session_id = self._session_id or uuid4().hex
        parent = self._parent_context if self._parent_context is not None else context.get_current()
        parent_id = self._parent_id
        link = ParentLink.LOCAL
        if parent_id is None:
            parent_id, link = _parent_in(parent, session_id)
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
                if link != ParentLink.LOCAL:
                    attributes[semconv.A2A_SESSION_PARENT_LINK] = link.value
            if self._properties_json is not None:
                attributes[semconv.A2A_SESSION_PROPERTIES] = self._properties_json
            span = tracer.start_span(
                span_name("session", session_id), parent, attributes=attributes
            )
            ctx = trace.set_span_in_context(span, parent)
        ctx = with_session_baggage(session_id, ctx)
        ctx = with_scope(make_scope(session_id, None), ctx)
        return ActiveSession(ctx, span, session_id, parent_id, link)


def _parent_in(ctx: Context, session_id: str) -> tuple[str | None, ParentLink]:
    """The parent a session opened in ``ctx`` gets: the enclosing session of
    this process (local), else the session a remote caller's baggage claims."""
    enclosing = ctx.get(SCOPE_KEY)
    if isinstance(enclosing, Scope):
        if enclosing.session_id is not None and enclosing.session_id != session_id:
            return enclosing.session_id, ParentLink.LOCAL
        return None, ParentLink.LOCAL
    claim = remote_claim(ctx)
    if claim is None or claim == session_id:
        return None, ParentLink.LOCAL
    return claim, ParentLink(claim_link(claim, ctx))


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
    session opened inside another becomes its child. Opened under a context
    extracted from another process (``context=asm.extract(headers)``), it
    records the caller's session as its remote parent: that session is never
    written to, and read (``ancestors()``, HIERARCHICAL prompts) only when the
    ``configure(remote_sessions=...)`` policy accepts the claim. When the
    block or decorated call returns, everything recorded inside is stored.
    Raises ``InvalidSessionIdError`` for ids no store can hold.
    """
    if callable(session_id):
        return SessionScope(None, None, None, None)(session_id)
    return SessionScope(session_id, properties, parent_id, context)
