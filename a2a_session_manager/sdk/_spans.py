"""Starting our spans and recording how they ended."""

from __future__ import annotations

import asyncio
import logging
from uuid import uuid4

from opentelemetry.trace import Span, Status, StatusCode

from a2a_session_manager.sdk._runtime import RUNTIME
from a2a_session_manager.telemetry import semconv

logger = logging.getLogger(__name__)

# Ends that are not failures of the code inside: the task was cancelled or the
# process is being stopped. A generator closed early (GeneratorExit) completed,
# and says it was closed early.
_CANCELLATIONS = (asyncio.CancelledError, KeyboardInterrupt, SystemExit)

MAX_NAME_LENGTH = 128


def span_name(prefix: str, name: str) -> str:
    """``prefix name``, shortened so hostile names (10 KB ids) keep span names small."""
    if len(name) > MAX_NAME_LENGTH:
        name = name[:MAX_NAME_LENGTH] + "…"
    return f"{prefix} {name}"


def new_span_id_hex(span: Span | None) -> str:
    """The span's id as 16 hex characters, or a random one when the span is not real."""
    if span is not None:
        span_context = span.get_span_context()
        if span_context.is_valid:
            return format(span_context.span_id, "016x")
    return uuid4().hex[:16]


def describe(exc: BaseException) -> str:
    """``Type: message``; an exception whose ``str`` fails still gets described."""
    try:
        text = str(exc)
    except Exception:
        text = "<unprintable exception>"
    name = type(exc).__qualname__
    return f"{name}: {text}" if text else name


def record_outcome(span: Span, exc: BaseException | None) -> None:
    """Mark ``span`` failed or cancelled by ``exc`` (``None``: it completed)."""
    if exc is None or not span.is_recording():
        return
    if isinstance(exc, GeneratorExit):
        span.set_attribute(semconv.A2A_RUN_CLOSED_EARLY, True)
        return
    if isinstance(exc, _CANCELLATIONS):
        span.set_attribute(semconv.A2A_RUN_CANCELLED, True)
        span.set_attribute(semconv.ERROR_TYPE, type(exc).__qualname__)
        return
    description = describe(exc)
    try:
        span.record_exception(exc)
    except Exception:  # a hostile exception must not break recording its failure
        logger.debug("could not record exception on span", exc_info=True)
    span.set_attributes(
        {
            semconv.ERROR_TYPE: type(exc).__qualname__,
            semconv.A2A_ERROR_MESSAGE: description,
        }
    )
    span.set_status(Status(StatusCode.ERROR, description))


def end_scope(span: Span, exc: BaseException | None, *, readable_on_return: bool) -> None:
    """End a run's or session's span; when ``readable_on_return``, make what it
    recorded readable before the caller goes on (read-your-writes)."""
    if exc is not None:
        record_outcome(span, exc)
    span.end()
    if readable_on_return:
        processor = RUNTIME.processor
        if processor is not None:
            processor.on_scope_return()
