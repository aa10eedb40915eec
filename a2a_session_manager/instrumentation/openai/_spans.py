"""Ending a ``chat`` span: the response's attributes (guarded), then the error, then ``end``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from a2a_session_manager.instrumentation.openai._attributes import error_attributes
from a2a_session_manager.instrumentation.openai._guard import log_internal_error


def end_span(
    span: Span,
    attributes: Callable[[], dict[str, Any]] | None = None,
    error: BaseException | None = None,
) -> None:
    """Set what the response says, mark ``error`` (an ``Exception``), end the span.

    A failure to read the response is ours: it is logged, never raised, and the
    span still ends.
    """
    if attributes is not None:
        try:
            span.set_attributes(attributes())
        except Exception:
            log_internal_error("reading the OpenAI response")
    if isinstance(error, Exception):
        span.set_attributes(error_attributes(error))
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__qualname__}: {error}"))
    span.end()
