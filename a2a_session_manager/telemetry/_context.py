"""Which session and run are current, and how that travels.

The current session and run live in the OpenTelemetry context (so asyncio
tasks inherit them, and ``wrap_context`` carries them into executor
threads). The session id also travels in W3C baggage (``session.id``), so
``inject``/``extract`` continue the hierarchy in another process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, MutableMapping
from typing import Final, ParamSpec, TypeVar

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.context import Context

from a2a_session_manager.telemetry import semconv

P = ParamSpec("P")
R = TypeVar("R")

SCOPE_KEY: Final = context.create_key("a2a-session-manager.scope")
# The key under which the API keeps the current span; its name is private to
# the API (a random suffix), so read it from what the public function writes.
SPAN_KEY: Final = next(iter(trace.set_span_in_context(trace.INVALID_SPAN, Context())))


class Scope:
    """What is current: a session and, inside a run, the run.

    Immutable once made. ``attributes`` (what every span started in the
    scope carries: session id, conversation id, enclosing run id) is built
    on first use, since most runs start no span of another kind.
    """

    __slots__ = ("_attributes", "run_id", "session_attributes", "session_id")

    def __init__(
        self,
        session_id: str | None,
        run_id: str | None,
        session_attributes: Mapping[str, str],
    ) -> None:
        self.session_id = session_id
        self.run_id = run_id
        self.session_attributes = session_attributes
        self._attributes: Mapping[str, str] | None = session_attributes if run_id is None else None

    @property
    def attributes(self) -> Mapping[str, str]:
        attributes = self._attributes
        if attributes is None:  # a run's scope (threads racing here build equal dicts)
            built = dict(self.session_attributes)
            if self.run_id is not None:
                built[semconv.A2A_RUN_ID] = self.run_id
            attributes = self._attributes = built
        return attributes

    def __repr__(self) -> str:
        return f"Scope(session_id={self.session_id!r}, run_id={self.run_id!r})"


NO_ATTRIBUTES: Mapping[str, str] = {}


def session_attributes(session_id: str | None) -> Mapping[str, str]:
    if session_id is None:
        return NO_ATTRIBUTES
    return {semconv.SESSION_ID: session_id, semconv.GEN_AI_CONVERSATION_ID: session_id}


def make_scope(
    session_id: str | None, run_id: str | None, session_attrs: Mapping[str, str] | None = None
) -> Scope:
    """A scope; pass ``session_attrs`` of the enclosing scope to share it."""
    if session_attrs is None:
        session_attrs = session_attributes(session_id)
    return Scope(session_id, run_id, session_attrs)


def scope_attributes(ctx: Context | None = None) -> Mapping[str, str]:
    """What every span started in ``ctx`` carries: the session's and run's ids."""
    scope = scope_in(ctx)
    return scope.attributes if scope is not None else NO_ATTRIBUTES


def scope_in(ctx: Context | None = None) -> Scope | None:
    """The scope of ``ctx`` (the current context by default).

    A context with no scope of ours but a ``session.id`` in its baggage
    (extracted from another process) yields that session.
    """
    value = (ctx if ctx is not None else context.get_current()).get(SCOPE_KEY)
    if value.__class__ is Scope:
        return value  # type: ignore[return-value]
    remote = baggage.get_baggage(semconv.BAGGAGE_SESSION_ID, ctx)
    if isinstance(remote, str) and remote:
        return make_scope(remote, None)
    return None


def with_scope(scope: Scope, ctx: Context) -> Context:
    return context.set_value(SCOPE_KEY, scope, ctx)


def with_span_and_scope(span: object, scope: Scope, ctx: Context) -> Context:
    """``ctx`` with ``span`` current and ``scope`` set: one copy instead of the
    four that ``set_span_in_context`` then ``set_value`` make."""
    return Context({**ctx, SPAN_KEY: span, SCOPE_KEY: scope})


def with_session_baggage(session_id: str, ctx: Context) -> Context:
    return baggage.set_baggage(semconv.BAGGAGE_SESSION_ID, session_id, ctx)


def current_session_id() -> str | None:
    """The id of the current session (or of the remote caller's, after ``extract``)."""
    scope = scope_in()
    return scope.session_id if scope is not None else None


def current_run_id() -> str | None:
    """The id of the innermost run in progress, if any."""
    scope = scope_in()
    return scope.run_id if scope is not None else None


def inject(
    carrier: MutableMapping[str, str], *, context: Context | None = None
) -> MutableMapping[str, str]:
    """Write W3C ``traceparent`` and ``baggage`` (with ``session.id``) into ``carrier``.

    Uses the global propagators (``OTEL_PROPAGATORS``; W3C trace context and
    baggage by default). Returns ``carrier`` for convenience.
    """
    propagate.inject(carrier, context=context)
    return carrier


def extract(carrier: Mapping[str, str], *, context: Context | None = None) -> Context:
    """The context a caller sent in ``carrier``.

    Pass it to ``session(context=...)`` (the new session becomes a child of the
    caller's) or attach it with ``opentelemetry.context.attach``.
    """
    return propagate.extract(carrier, context=context)


def wrap_context(func: Callable[P, R]) -> Callable[P, R]:
    """``func`` bound to the current context: the session and run follow it into
    another thread, e.g. ``executor.submit(asm.wrap_context(work), item)``.

    Each call attaches the captured context and detaches it afterwards, so one
    wrapped function may run in several threads at once.
    """
    captured = context.get_current()

    @functools.wraps(func)
    def in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        token = context.attach(captured)
        try:
            return func(*args, **kwargs)
        finally:
            context.detach(token)

    return in_context
