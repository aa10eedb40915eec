"""Ending a ``chat`` span: the response's attributes and the call's content
(guarded), then the error, then ``end``, in one ``set_attributes``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from a2a_session_manager.instrumentation.openai._attributes import error_attributes
from a2a_session_manager.instrumentation.openai._messages import plain_json, to_json
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._deferred_content import (
    ContentProducer,
    content_on_spans,
    defer_content,
)
from a2a_session_manager.telemetry._fast_attributes import set_trusted_attributes
from a2a_session_manager.telemetry._guard import log_internal_error


def _plain(content: ContentProducer) -> dict[str, Any]:
    return {key: plain_json(value) for key, value in content().items()}


def _record_content(span: Span, content: ContentProducer, attributes: dict[str, Any]) -> None:
    """The call's messages: as JSON attributes when spans carry content (the
    conventions' opt-in), else handed to the session mapper to build later."""
    if not content_on_spans() and defer_content(span, partial(_plain, content)):
        return
    for key, value in content().items():
        attributes[key] = to_json(value)


def end_span(
    span: Span,
    attributes: Callable[[], dict[str, Any]] | None = None,
    error: BaseException | None = None,
    content: ContentProducer | None = None,
    typed: bool = False,
) -> None:
    """Set what the response says, record ``content`` (structured messages),
    mark ``error`` (an ``Exception``), end the span. ``typed``: ``attributes``
    returns only str, bool, int, float or tuple-of-str values (see
    ``set_trusted_attributes``); content and errors add only such values.

    A failure to read the response is ours: it is logged, never raised, and the
    span still ends.
    """
    try:
        values = attributes() if attributes is not None else {}
    except Exception:
        log_internal_error("reading the OpenAI response")
        values = {}
    if content is not None:
        try:
            _record_content(span, content, values)
        except Exception:
            log_internal_error("reading the call's messages")
    description = None
    if error is not None and isinstance(error, Exception):
        failure = error_attributes(error)
        values.update(failure)
        description = f"{failure[semconv.ERROR_TYPE]}: {failure[semconv.A2A_ERROR_MESSAGE]}"
    if values:
        set_trusted_attributes(span, values, typed=typed)
    if description is not None:
        span.record_exception(error)  # type: ignore[arg-type]  # an Exception, checked above
        span.set_status(Status(StatusCode.ERROR, description))
    span.end()
