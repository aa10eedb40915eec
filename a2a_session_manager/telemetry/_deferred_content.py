"""Message content built after the call, for the session store only.

Per the GenAI conventions, message content goes on spans only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is true: then an
exporter may send it, and the instrumentation sets the content attributes
(JSON text) as usual. Otherwise the session store is content's only reader,
and turning messages into JSON during the user's call would be wasted work:
the instrumentation attaches a *producer* instead, a callable returning the
content attributes as plain JSON values (what ``json.loads`` of the
attributes would give), and the session mapper calls it when it maps the
span, in the background or on read.

The producer rides on the span's attribute container, the one object the
SDK shares between the live span and the ``ReadableSpan`` it hands to
processors. Spans of other SDKs cannot carry one: :func:`defer_content`
says so and the caller sets the attributes instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from a2a_session_manager.telemetry import semconv

# Content attribute name -> its value as plain JSON values (not JSON text).
ContentProducer = Callable[[], dict[str, Any]]

_PRODUCER = "_a2a_deferred_content"
_TRUE = frozenset({"true", "1", "yes"})


def content_on_spans() -> bool:
    """Whether spans carry message content (the conventions' opt-in variable)."""
    value = os.environ.get(semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)
    return value is not None and value.strip().lower() in _TRUE


def defer_content(span: Any, producer: ContentProducer) -> bool:
    """Attach ``producer`` to ``span``; ``False`` when the span cannot carry it."""
    holder = getattr(span, "_attributes", None)
    holder_dict = getattr(holder, "__dict__", None)
    if holder_dict is None:
        return False
    holder_dict[_PRODUCER] = producer
    return True


def deferred_content(span: Any) -> ContentProducer | None:
    """The producer attached to ``span`` (live or the SDK's ended copy), if any."""
    holder_dict = getattr(getattr(span, "_attributes", None), "__dict__", None)
    if holder_dict is None:
        return None
    producer: ContentProducer | None = holder_dict.get(_PRODUCER)
    return producer
