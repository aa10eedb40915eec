"""Starting and ending the conventions' A2A spans (``docs/gen-ai/a2a.md``).

A span is named by its method (``SendMessage``), CLIENT on the caller's side
and SERVER on the agent's. Ending it never raises: what the call carried is
set from its :class:`Exchange`, errors follow the conventions' ``error.type``.
A task that fails is a call that succeeded: its state says so, not the span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from a2a_session_manager.instrumentation.a2a._records import Exchange
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._guard import internal_errors

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


def end_span(
    span: Span,
    exchange: Exchange,
    exc: BaseException | None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Set what the call carried and end ``span`` (once; never raises)."""
    try:
        with internal_errors("ending an A2A span"):
            _finish(span, exchange, exc, extra)
    finally:
        span.end()


def _finish(
    span: Span, exchange: Exchange, exc: BaseException | None, extra: Mapping[str, Any] | None
) -> None:
    if span.is_recording():
        span.set_attributes(exchange.attributes())
        if extra:
            span.set_attributes(extra)
        if exc is not None:
            span.set_attribute(semconv.ERROR_TYPE, error_type(exc))
            message = f"{type(exc).__name__}: {exc}"[:_ERROR_MESSAGE_LIMIT]
            span.set_attribute(semconv.A2A_ERROR_MESSAGE, message)
            span.set_status(Status(StatusCode.ERROR, message))
