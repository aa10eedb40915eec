"""OTLP export to collectors, with message content only when allowed.

Uses the standard ``opentelemetry-exporter-otlp-proto-http`` exporter (the
``[otlp]`` extra) behind a ``BatchSpanProcessor``. Content attributes
(``semconv.CONTENT_ATTRIBUTES``) are removed unless
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` puts content on spans
(``SPAN_ONLY`` or ``SPAN_AND_EVENT``); when kept, the redaction hook sees
each message first, in the same shape as for the session store:
``{"role": ..., "content": <text or parts>}``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from a2a_session_manager.exporters._conversation import parts, text_of
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._deferred_content import content_on_spans
from a2a_session_manager.telemetry._json import from_json_text, to_json_text

logger = logging.getLogger(__name__)

Redactor = Callable[[dict[str, Any]], dict[str, Any]]

_RECONFIGURE_FLUSH_MILLIS = 5_000

_STRUCTURED = (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES)


def otlp_configured(endpoint: str | None) -> bool:
    return bool(
        endpoint
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _redacted_message(message: dict[str, Any], redact: Redactor) -> dict[str, Any]:
    """A structured message through the hook, in the one shape the session
    store's hook sees too: ``{"role", "content": <text, or the parts>}``."""
    message_parts = parts(message)
    text = text_of(message_parts)
    single = text is not None and len(message_parts) == 1
    out = redact({"role": message.get("role"), "content": text if single else message_parts})
    content = out.get("content") if isinstance(out, dict) else None
    if isinstance(content, str):
        new_parts: list[Any] = [{"type": semconv.PART_TEXT, "content": content}]
    else:
        new_parts = content if isinstance(content, list) else []
    return {**message, "parts": new_parts}


def _redacted(key: str, value: Any, redact: Redactor, role: str) -> Any:
    parsed = from_json_text(value)
    try:
        if key in _STRUCTURED and isinstance(parsed, list):
            return to_json_text(
                [_redacted_message(m, redact) for m in parsed if isinstance(m, dict)]
            )
        out = redact({"role": role, "content": parsed})
        return to_json_text(out.get("content") if isinstance(out, dict) else None)
    except Exception:
        logger.exception("redaction hook failed; %s not exported", key)
        return None


def _role_of(key: str, attributes: Mapping[str, Any]) -> str:
    """The role the redaction hook sees, as the session store's hook sees it."""
    if key == semconv.A2A_EVENT_MESSAGE:
        return str(attributes.get(semconv.A2A_EVENT_SOURCE, ""))
    return "tool" if key.startswith("gen_ai.tool") else ""


class ContentFilteringExporter(SpanExporter):
    """Wraps an exporter: strips (or redacts) message content before export,
    in span attributes and in span events (``record_event``'s messages)."""

    def __init__(
        self, inner: SpanExporter, *, capture_content: bool, redact: Redactor | None = None
    ) -> None:
        self.inner = inner
        self.capture_content = capture_content
        self.redact = redact

    def _kept(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        for key, value in attributes.items():
            if key in semconv.CONTENT_ATTRIBUTES:
                if not self.capture_content:
                    continue
                if self.redact is not None:
                    value = _redacted(key, value, self.redact, _role_of(key, attributes))
                    if value is None:
                        continue
            kept[key] = value
        return kept

    def _filtered(self, span: ReadableSpan) -> ReadableSpan:
        attributes = span.attributes or {}
        # Events carry record_event's messages: they need the same treatment.
        events_touched = bool(span.events) and (not self.capture_content or self.redact is not None)
        if not events_touched and not any(key in attributes for key in semconv.CONTENT_ATTRIBUTES):
            return span
        events = span.events
        if events_touched:
            events = tuple(
                type(e)(e.name, self._kept(e.attributes or {}), e.timestamp) for e in events
            )
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=self._kept(attributes),
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


class OtlpSpanProcessor(BatchSpanProcessor):
    """Batches spans to the OTLP exporter through a :class:`ContentFilteringExporter`."""

    def __init__(self, exporter: ContentFilteringExporter) -> None:
        super().__init__(exporter)
        self.content_filter = exporter

    def reconfigure(self, *, redact: Redactor | None, capture_content: bool = True) -> None:
        """A later ``configure(redact=...)`` applies to export as it does to the
        store: spans ended before it are exported under the old hook first
        (waiting at most ``_RECONFIGURE_FLUSH_MILLIS`` on a slow collector)."""
        self.force_flush(_RECONFIGURE_FLUSH_MILLIS)
        self.content_filter.redact = redact
        self.content_filter.capture_content = capture_content and content_on_spans()


def _traces_url(endpoint: str) -> str:
    """``configure(otlp_endpoint=...)`` takes the collector's base URL or its
    full traces URL, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` and ``..._TRACES_ENDPOINT`` do."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else base + "/v1/traces"


def otlp_processor(
    endpoint: str | None, redact: Redactor | None, *, capture_content: bool = True
) -> OtlpSpanProcessor | None:
    """A batch processor exporting over OTLP/HTTP, or ``None`` when the exporter
    package is not installed (logged). Without ``endpoint`` the exporter reads
    the ``OTEL_EXPORTER_OTLP_*`` variables itself. Content is exported only when
    both the application (``capture_content``) and the environment allow it."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        logger.error(
            "OTLP export requested but opentelemetry-exporter-otlp-proto-http is not "
            "installed; install a2a-session-manager[otlp]"
        )
        return None
    exporter = OTLPSpanExporter(endpoint=_traces_url(endpoint)) if endpoint else OTLPSpanExporter()
    return OtlpSpanProcessor(
        ContentFilteringExporter(
            exporter, capture_content=capture_content and content_on_spans(), redact=redact
        )
    )


def _metrics_url(endpoint: str) -> str:
    """The collector's metrics URL for ``configure(otlp_endpoint=...)`` (its base
    URL or its traces URL)."""
    base = endpoint.rstrip("/")
    if base.endswith("/v1/traces"):
        base = base[: -len("/v1/traces")]
    return base if base.endswith("/v1/metrics") else base + "/v1/metrics"


def otlp_meter_provider(endpoint: str | None) -> Any:
    """An SDK ``MeterProvider`` exporting over OTLP/HTTP (to ``endpoint``, else
    where the ``OTEL_EXPORTER_OTLP_*`` variables say), or ``None`` when the
    exporter package is not installed."""
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    except ImportError:
        logger.error(
            "OTLP metrics requested but opentelemetry-exporter-otlp-proto-http is not "
            "installed; install a2a-session-manager[otlp]"
        )
        return None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    exporter = (
        OTLPMetricExporter(endpoint=_metrics_url(endpoint)) if endpoint else OTLPMetricExporter()
    )
    return MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(exporter)], resource=Resource.create()
    )
