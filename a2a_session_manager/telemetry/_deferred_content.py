"""Message content built after the call, for the session store only.

Per the GenAI conventions, message content goes on spans only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``SPAN_ONLY`` or
``SPAN_AND_EVENT`` (:func:`content_on_spans`): then an exporter may send it,
and the instrumentation sets the content attributes (JSON text) as usual.
Otherwise the session store is content's only reader, and turning messages
into JSON during the user's call would be wasted work: the instrumentation
attaches a *producer* instead, a callable returning the
content attributes as plain JSON values (what ``json.loads`` of the
attributes would give), and the session mapper calls it when it maps the
span, in the background or on read.

The producer rides on the span's attribute container, the one object the
SDK shares between the live span and the ``ReadableSpan`` it hands to
processors. Spans of other SDKs cannot carry one: :func:`defer_content`
says so and the caller sets the attributes instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

from a2a_session_manager.telemetry import semconv

# Content attribute name -> its value as plain JSON values (not JSON text).
ContentProducer = Callable[[], dict[str, Any]]

logger = logging.getLogger(__name__)

_PRODUCER = "_a2a_deferred_content"

# The conventions' values of OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT.
NO_CONTENT: Final = "NO_CONTENT"
SPAN_ONLY: Final = "SPAN_ONLY"
EVENT_ONLY: Final = "EVENT_ONLY"
SPAN_AND_EVENT: Final = "SPAN_AND_EVENT"
CAPTURE_MODES: Final = (NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT)
_ON_SPANS: Final = frozenset({SPAN_ONLY, SPAN_AND_EVENT})


@lru_cache(maxsize=16)
def capture_mode(value: str | None) -> str:
    """The conventions' mode ``value`` names (case-insensitive). Anything else,
    booleans included, fails closed to ``NO_CONTENT`` with one warning naming
    the value to use (cached: one warning per distinct value)."""
    if value is None or not value.strip():
        return NO_CONTENT
    mode = value.strip().upper()
    if mode in CAPTURE_MODES:
        return mode
    logger.warning(
        "%s=%r is not one of %s: no message content is captured on spans or events. "
        "Set it to SPAN_ONLY to send message content to collectors "
        "(session stores keep content either way).",
        semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
        value,
        ", ".join(CAPTURE_MODES),
    )
    return NO_CONTENT


def _environ_reader(name: str) -> Callable[[], str | None]:
    """A reader of the environment variable ``name``.

    ``os.environ.get`` of an unset variable raises and catches a ``KeyError``
    inside (about 1 µs, a few percent of a chat call's own cost, measured side
    by side in one process); CPython's ``os.environ`` keeps its values in a
    dict of encoded names that a lookup reads directly. Any other layout: the
    public ``os.environ.get``.
    """
    environ: Any = os.environ
    data = getattr(environ, "_data", None)
    encode = getattr(environ, "encodekey", None)
    decode = getattr(environ, "decodevalue", None)
    if type(data) is not dict or encode is None or decode is None:
        return lambda: os.environ.get(name)
    key = encode(name)

    def read() -> str | None:
        if os.environ is not environ:  # replaced wholesale: ask the new one
            return os.environ.get(name)
        raw = data.get(key)
        return None if raw is None else str(decode(raw))

    return read


_capture_variable = _environ_reader(semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)


def content_on_spans() -> bool:
    """Whether spans carry message content: the conventions' variable says
    ``SPAN_ONLY`` or ``SPAN_AND_EVENT``. Read on every call, so a change of the
    variable applies to the next call."""
    value = _capture_variable()
    return value is not None and capture_mode(value) in _ON_SPANS


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
