"""Exporters: the span → session model mapping, the span processor that
writes it to any session store, and the OTLP wiring."""

from a2a_session_manager.exporters._mapping import SpanMapper
from a2a_session_manager.exporters._processor import SessionSpanProcessor

__all__ = ["SessionSpanProcessor", "SpanMapper"]
