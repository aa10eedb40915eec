"""Auto-instrumentation of LLM clients: each call becomes a ``chat`` span.

Instrumentations only create spans with the attributes of
:mod:`a2a_session_manager.telemetry.semconv`; they never touch a store. The
session exporter turns those spans into session events.
"""
