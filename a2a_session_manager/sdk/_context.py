"""Which session and run are current, and how that travels.

The current session and run live in the OpenTelemetry context (so asyncio
tasks inherit them, and ``wrap_context`` carries them into executor
threads). The session id also travels in W3C baggage (``session.id``), so
``inject``/``extract`` continue the hierarchy in another process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from opentelemetry import baggage, context, propagate
from opentelemetry.context import Context

from a2a_session_manager.sdk import semconv

P = ParamSpec("P")
R = TypeVar("R")

_SCOPE_KEY = context.create_key("a2a-session-manager.scope")


@dataclass(frozen=True, slots=True)
class Scope:
    """What is current: a session and, inside a run, the run.

    ``attributes`` is precomputed once per scope: what every span started
    in it carries (session id, conversation id, enclosing run id).
    """

    session_id: str | None
    run_id: str | None
    session_attributes: Mapping[str, str]
    attributes: Mapping[str, str]


_NO_ATTRIBUTES: Mapping[str, str] = {}


def session_attributes(session_id: str | None) -> Mapping[str, str]:
    if session_id is None:
        return _NO_ATTRIBUTES
    return {semconv.SESSION_ID: session_id, semconv.GEN_AI_CONVERSATION_ID: session_id}


def make_scope(
    session_id: str | None, run_id: str | None, session_attrs: Mapping[str, str] | None = None
) -> Scope:
    """A scope; pass ``session_attrs`` of the enclosing scope to share it."""
    if session_attrs is None:
        session_attrs = session_attributes(session_id)
    attributes = session_attrs if run_id is None else {**session_attrs, semconv.A2A_RUN_ID: run_id}
    return Scope(session_id, run_id, session_attrs, attributes)


def scope_in(ctx: Context | None = None) -> Scope | None:
    """The scope of ``ctx`` (the current context by default).

    A context with no scope of ours but a ``session.id`` in its baggage
    (extracted from another process) yields that session.
    """
    value = context.get_value(_SCOPE_KEY, ctx)
    if isinstance(value, Scope):
        return value
    remote = baggage.get_baggage(semconv.BAGGAGE_SESSION_ID, ctx)
    if isinstance(remote, str) and remote:
        return make_scope(remote, None)
    return None


def with_scope(scope: Scope, ctx: Context) -> Context:
    return context.set_value(_SCOPE_KEY, scope, ctx)


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
