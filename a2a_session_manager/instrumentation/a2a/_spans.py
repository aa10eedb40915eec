"""Starting and ending the conventions' A2A spans (``docs/gen-ai/a2a.md``).

A span is named by its method (``SendMessage``), CLIENT on the caller's side
and SERVER on the agent's. Ending it (:class:`A2ACall`) never raises: what
the call carried is set from its :class:`Exchange`, errors follow the
conventions' ``error.type``.
A task that fails is a call that succeeded: its state says so, not the span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from a2a_session_manager.instrumentation.a2a._records import Exchange
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._deferred_content import content_on_spans, defer_content
from a2a_session_manager.telemetry._fast_attributes import set_trusted_attributes
from a2a_session_manager.telemetry._guard import log_internal_error

_ERROR_MESSAGE_LIMIT = 2_000


def error_type(exc: BaseException) -> str:
    """The JSON-RPC / protocol code when the error carries one, else the class name."""
    for name in ("code", "status_code"):
        code = getattr(exc, name, None)
        if isinstance(code, int) and not isinstance(code, bool):
            return str(code)
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def agent_attributes(card: Any) -> dict[str, Any]:
    """What an Agent Card says of its agent: name, description, version (those set)."""
    attributes: dict[str, Any] = {}
    if card is not None:
        for key, value in (
            (semconv.GEN_AI_AGENT_NAME, card.name),
            (semconv.GEN_AI_AGENT_DESCRIPTION, card.description),
            (semconv.GEN_AI_AGENT_VERSION, card.version),
        ):
            if value:
                attributes[key] = value
    return attributes


class A2ACall:
    """One A2A call in progress: its span and what it carried (``exchange``).
    :meth:`end` sets the attributes and ends the span; the wrappers call it once."""

    __slots__ = ("exchange", "span")

    def __init__(self, span: Span, exchange: Exchange) -> None:
        self.span = span
        self.exchange = exchange

    def read(self, result: Any, what: str) -> None:
        """Note what a response or stream event carried (never raises)."""
        try:
            self.exchange.result(result)
        except Exception:
            log_internal_error(what)

    def end(self, exc: BaseException | None, extra: Mapping[str, Any] | None = None) -> None:
        """Set what the call carried and end the span (never raises)."""
        span = self.span
        try:
            _finish(span, self.exchange, exc, extra)
        except Exception:
            log_internal_error("ending an A2A span")
        finally:
            span.end()


def _finish(
    span: Span, exchange: Exchange, exc: BaseException | None, extra: Mapping[str, Any] | None
) -> None:
    if not span.is_recording():
        return
    values = exchange.attributes()
    # The records are content: JSON on the span only when spans carry content
    # (the conventions' opt-in); else the session mapper builds them later, off
    # the caller's thread, from the exchange's snapshots.
    if exchange.snapshots and (
        content_on_spans() or not defer_content(span, exchange.records_plain)
    ):
        values[semconv.A2A_EXCHANGE] = exchange.records_json()
    if extra:
        values.update(extra)
    message = None
    if exc is not None:
        message = f"{type(exc).__name__}: {exc}"[:_ERROR_MESSAGE_LIMIT]
        values[semconv.ERROR_TYPE] = error_type(exc)
        values[semconv.A2A_ERROR_MESSAGE] = message
    # All str (protobuf strings, ids, the JSON text), the port an int, the
    # reference ids a tuple of str: typed by construction.
    set_trusted_attributes(span, values, typed=True)
    if message is not None:
        span.set_status(Status(StatusCode.ERROR, message))
