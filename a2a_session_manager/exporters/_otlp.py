"""OTLP export to collectors, with message content only when allowed.

Uses the standard ``opentelemetry-exporter-otlp-proto-http`` exporter (the
``[otlp]`` extra) behind a ``BatchSpanProcessor``. Content attributes
(``semconv.CONTENT_ATTRIBUTES``) are removed unless
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is true; when kept,
the redaction hook sees each message first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from a2a_session_manager.sdk import semconv
from a2a_session_manager.sdk._json import from_json_text, to_json_text

logger = logging.getLogger(__name__)

Redactor = Callable[[dict[str, Any]], dict[str, Any]]

_STRUCTURED = (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES)


def content_capture_allowed() -> bool:
    value = os.environ.get(semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, "")
    return value.strip().lower() in ("true", "1", "yes")


def otlp_configured(endpoint: str | None) -> bool:
    return bool(
        endpoint
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _redacted(key: str, value: Any, redact: Redactor) -> Any:
    parsed = from_json_text(value)
    try:
        if key in _STRUCTURED and isinstance(parsed, list):
            return to_json_text([redact(m) for m in parsed if isinstance(m, dict)])
        out = redact({"role": "tool" if key.startswith("gen_ai.tool") else "", "content": parsed})
        return to_json_text(out.get("content") if isinstance(out, dict) else None)
    except Exception:
        logger.exception("redaction hook failed; %s not exported", key)
        return None


class ContentFilteringExporter(SpanExporter):
    """Wraps an exporter: strips (or redacts) message content before export."""

    def __init__(
        self, inner: SpanExporter, *, capture_content: bool, redact: Redactor | None = None
    ) -> None:
        self.inner = inner
        self.capture_content = capture_content
        self.redact = redact

    def _filtered(self, span: ReadableSpan) -> ReadableSpan:
        attributes = span.attributes or {}
        if not any(key in attributes for key in semconv.CONTENT_ATTRIBUTES) and not (
            span.events and not self.capture_content
        ):
            return span
        kept: dict[str, Any] = {}
        for key, value in attributes.items():
            if key in semconv.CONTENT_ATTRIBUTES:
                if not self.capture_content:
                    continue
                if self.redact is not None:
                    value = _redacted(key, value, self.redact)
                    if value is None:
                        continue
            kept[key] = value
        events = span.events
        if not self.capture_content and events:
            events = tuple(
                type(e)(
                    e.name,
                    {
                        k: v
                        for k, v in (e.attributes or {}).items()
                        if k not in semconv.CONTENT_ATTRIBUTES
                    },
                    e.timestamp,
                )
                for e in events
            )
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=kept,
            events=events,
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([self._filtered(s) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


def otlp_processor(endpoint: str | None, redact: Redactor | None) -> BatchSpanProcessor | None:
    """A batch processor exporting over OTLP/HTTP, or ``None`` when the exporter
    package is not installed (logged)."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        logger.error(
            "OTLP export requested but opentelemetry-exporter-otlp-proto-http is not "
            "installed; install a2a-session-manager[otlp]"
        )
        return None
    if endpoint is not None and not endpoint.rstrip("/").endswith("/v1/traces"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    return BatchSpanProcessor(
        ContentFilteringExporter(exporter, capture_content=content_capture_allowed(), redact=redact)
    )
