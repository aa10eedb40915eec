"""``run``: one execution of an agent or task, as an ``invoke_agent`` span."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from opentelemetry import context
from opentelemetry.context import Context
from opentelemetry.trace import Span

from a2a_session_manager.sdk._runtime import RUNTIME
from a2a_session_manager.sdk._scoped import NO_RESULT, Active, Scoped
from a2a_session_manager.sdk._spans import end_scope, new_span_id_hex, span_name
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._context import (
    NO_ATTRIBUTES,
    SCOPE_KEY,
    Scope,
    scope_in,
    with_scope,
    with_span_and_scope,
)

F = TypeVar("F", bound=Callable[..., Any])


class ActiveRun(Active):
    """A run in progress (what ``with run(...) as r`` gives): ``r.id``, ``r.session_id``."""

    __slots__ = ("_outermost", "_span", "id", "session_id")

    def __init__(
        self, ctx: Context, span: Span | None, run_id: str, session_id: str | None, outermost: bool
    ) -> None:
        self.context = ctx
        self.token = None
        self._span = span
        self._outermost = outermost
        self.id = run_id
        self.session_id = session_id

    def finish(self, exc: BaseException | None, result: Any = NO_RESULT) -> None:
        span = self._span
        if span is None:
            return
        # Read-your-writes: what the outermost run recorded is readable on return.
        end_scope(span, exc, readable_on_return=self._outermost)


class Run(Scoped[ActiveRun]):
    """What ``run(...)`` returns: a context manager and a decorator."""

    def __init__(self, name: str | None, attributes: dict[str, Any] | None) -> None:
        super().__init__()
        self._extra = dict(attributes) if attributes else {}
        self._set_name(name or "run")
        self._named = name is not None

    def _set_name(self, name: str) -> None:
        self.name = name
        self._span_name = span_name(semconv.OPERATION_INVOKE_AGENT, name)
        self._cached: tuple[Mapping[str, str], Mapping[str, Any]] | None = None
        self._attributes: dict[str, Any] = {
            **self._extra,
            semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_INVOKE_AGENT,
            semconv.GEN_AI_AGENT_NAME: name,
        }

    def _prepare(self, func: Callable[..., Any]) -> None:
        if not self._named:
            self._set_name(getattr(func, "__qualname__", None) or repr(func))

    def _span_attributes(self, session_attrs: Mapping[str, str]) -> Mapping[str, Any]:
        """This run's attributes plus the session's, built once per session scope
        (the SDK copies them into each span, so one dict serves every call)."""
        cached = self._cached
        if cached is not None and cached[0] is session_attrs:
            return cached[1]
        attributes = {**self._attributes, **session_attrs} if session_attrs else self._attributes
        self._cached = (session_attrs, attributes)  # one tuple: safe to replace across threads
        return attributes

    def _open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> ActiveRun:
        parent = context.get_current()
        scope = parent.get(SCOPE_KEY)
        if scope.__class__ is not Scope:
            scope = scope_in(parent)  # none of ours: maybe a session from baggage
        if scope is None:
            session_id = parent_run = None
            session_attrs = NO_ATTRIBUTES
        else:
            session_id = scope.session_id
            parent_run = scope.run_id
            session_attrs = scope.session_attributes
        tracer = RUNTIME.tracer
        if tracer is None:
            run_id = new_span_id_hex(None)
            ctx = with_scope(Scope(session_id, run_id, session_attrs), parent)
            return ActiveRun(ctx, None, run_id, session_id, parent_run is None)
        attributes = self._span_attributes(session_attrs)
        if parent_run is not None:
            attributes = {**attributes, semconv.A2A_RUN_PARENT_ID: parent_run}
        span = tracer.start_span(self._span_name, parent, attributes=attributes)
        run_id = new_span_id_hex(span)
        ctx = with_span_and_scope(span, Scope(session_id, run_id, session_attrs), parent)
        return ActiveRun(ctx, span, run_id, session_id, parent_run is None)


@overload
def run(name: F, *, attributes: dict[str, Any] | None = None) -> F: ...
@overload
def run(name: str | None = None, *, attributes: dict[str, Any] | None = None) -> Run: ...
def run(name: Any = None, *, attributes: dict[str, Any] | None = None) -> Any:
    """A run of an agent or task: ``with run("planner"):``, ``async with``,
    ``@run``, ``@run("name")`` on functions, coroutines and generators.

    A run is a SessionRun of the current session; its id is the span id.
    When the outermost run returns, everything recorded inside it is in the store.
    """
    if callable(name):
        return Run(None, attributes)(name)
    return Run(name, attributes)
