"""Which session and run are current, and how that travels.

The current session and run live in the OpenTelemetry context (so asyncio
tasks inherit them, and ``wrap_context`` carries them into executor
threads). The session id also travels in W3C baggage (``session.id``), so
``inject``/``extract`` continue the hierarchy in another process.

On the receiving side that id is a claim, never a place to write (see
``_remote``): a session opened under it records it as a remote parent, and
spans recorded under the caller's context with no session of ours land in a
*landing session* of this process, ``remote-<hash>``. Its id derives from the
caller's span and claim, so the spans of one call share it and no caller can
pick it to name an existing session; it records the claim as its parent.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Final, ParamSpec, TypeVar

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.context import Context

from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._remote import claim_accepted
from a2a_session_manager.telemetry._w3c import inject_w3c

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
    (extracted from another process) yields the landing session for that
    claim, never the claimed session itself.
    """
    if ctx is None:
        ctx = context.get_current()
    value = ctx.get(SCOPE_KEY)
    if value.__class__ is Scope:
        return value  # type: ignore[return-value]
    claim = remote_claim(ctx)
    if claim is None:
        return None
    landing = landing_session_id(claim, ctx)
    attributes = {
        **session_attributes(landing),
        semconv.A2A_SESSION_PARENT_ID: claim,
        semconv.A2A_SESSION_PARENT_LINK: claim_link(claim, ctx),
    }
    return Scope(landing, None, attributes)


def remote_claim(ctx: Context) -> str | None:
    """The session id a remote caller's baggage names in ``ctx``, if any."""
    remote = baggage.get_baggage(semconv.BAGGAGE_SESSION_ID, ctx)
    return remote if isinstance(remote, str) and remote else None


def claim_link(claim: str, ctx: Context) -> str:
    """How a session links to the parent ``claim``: trusted only when the
    application's ``remote_sessions`` policy accepts it."""
    if claim_accepted(claim, ctx):
        return semconv.PARENT_LINK_REMOTE_TRUSTED
    return semconv.PARENT_LINK_REMOTE


def landing_session_id(claim: str, ctx: Context) -> str:
    """The local session that spans under a remote caller's context land in:
    one per calling span and claim (a hash, so no caller can choose it)."""
    span_context = trace.get_current_span(ctx).get_span_context()
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{span_context.trace_id:032x}{span_context.span_id:016x}".encode())
    digest.update(claim.encode("utf-8", "backslashreplace"))
    return "remote-" + digest.hexdigest()


def with_scope(scope: Scope, ctx: Context) -> Context:
    return context.set_value(SCOPE_KEY, scope, ctx)


def with_span_and_scope(span: object, scope: Scope, ctx: Context) -> Context:
    """``ctx`` with ``span`` current and ``scope`` set: one copy instead of the
    four that ``set_span_in_context`` then ``set_value`` make."""
    return Context({**ctx, SPAN_KEY: span, SCOPE_KEY: scope})


def with_session_baggage(session_id: str, ctx: Context) -> Context:
    return baggage.set_baggage(semconv.BAGGAGE_SESSION_ID, session_id, ctx)


def current_session_id() -> str | None:
    """The id of the current session (under a context extracted from a remote
    caller and no session of ours: the landing session's, never the caller's)."""
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
    inject_w3c(carrier, context)
    return carrier


def extract(carrier: Mapping[str, str], *, context: Context | None = None) -> Context:
    """The context a caller sent in ``carrier``.

    Pass it to ``session(context=...)`` (the new session records the caller's
    as its remote parent) or attach it with ``opentelemetry.context.attach``
    (what is recorded then lands in a local session whose parent is the
    caller's). The caller's session is never written to, and read only if the
    ``configure(remote_sessions=...)`` policy accepts it.
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
