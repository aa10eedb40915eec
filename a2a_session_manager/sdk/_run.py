"""``run``: one execution of an agent or task, as an ``invoke_agent`` span."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span

from a2a_session_manager.sdk import semconv
from a2a_session_manager.sdk._context import make_scope, scope_in, with_scope
from a2a_session_manager.sdk._runtime import RUNTIME
from a2a_session_manager.sdk._scoped import NO_RESULT, Active, Scoped
from a2a_session_manager.sdk._spans import new_span_id_hex, record_outcome, span_name

F = TypeVar("F", bound=Callable[..., Any])


class ActiveRun(Active):
    """A run in progress (what ``with run(...) as r`` gives): ``r.id``, ``r.session_id``."""

    __slots__ = ("_outermost", "_span", "id", "session_id")

    def __init__(
        self, ctx: Context, span: Span | None, run_id: str, session_id: str | None, outermost: bool
    ) -> None:
        super().__init__(ctx)
        self._span = span
        self._outermost = outermost
        self.id = run_id
        self.session_id = session_id

    def finish(self, exc: BaseException | None, result: Any = NO_RESULT) -> None:
        span = self._span
        if span is None:
            return
        if exc is not None:
            record_outcome(span, exc)
        span.end()
        if self._outermost:
            # Read-your-writes: what the outermost run recorded is stored on return.
            processor = RUNTIME.processor
            if processor is not None:
                processor.flush()


class Run(Scoped):
    """What ``run(...)`` returns: a context manager and a decorator."""

    def __init__(self, name: str | None, attributes: dict[str, Any] | None) -> None:
        super().__init__()
        self._extra = dict(attributes) if attributes else {}
        self._set_name(name or "run")
        self._named = name is not None

    def _set_name(self, name: str) -> None:
        self.name = name
        self._span_name = span_name(semconv.OPERATION_INVOKE_AGENT, name)
        self._attributes = {
            **self._extra,
            semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_INVOKE_AGENT,
            semconv.GEN_AI_AGENT_NAME: name,
        }

    def _prepare(self, func: Callable[..., Any]) -> None:
        if not self._named:
            self._set_name(getattr(func, "__qualname__", None) or repr(func))

    def _open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> Active:
        parent = context.get_current()
        scope = scope_in(parent)
        if scope is None:
            session_id = parent_run = None
            session_attrs = None
        else:
            session_id = scope.session_id
            parent_run = scope.run_id
            session_attrs = scope.session_attributes
        tracer = RUNTIME.tracer
        span: Span | None
        if tracer is None:
            span = None
            ctx = parent
        else:
            attributes = self._attributes
            if session_attrs or parent_run:
                attributes = {**attributes, **(session_attrs or {})}
                if parent_run is not None:
                    attributes[semconv.A2A_RUN_PARENT_ID] = parent_run
            span = tracer.start_span(self._span_name, parent, attributes=attributes)
            ctx = trace.set_span_in_context(span, parent)
        run_id = new_span_id_hex(span)
        ctx = with_scope(make_scope(session_id, run_id, session_attrs), ctx)
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
