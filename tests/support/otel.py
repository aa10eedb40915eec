"""OpenTelemetry test set-up: clean global trace state and a configured SDK
recording into a fresh in-memory store, with an in-memory span exporter
attached to the same provider (as a user's own processor would be)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from a2a_session_manager.sdk import Handle, configure
from a2a_session_manager.sdk._configure import _INSTRUMENTORS, reset_for_tests
from a2a_session_manager.storage import InMemorySessionStore


def reset_trace_globals() -> None:
    """As opentelemetry-test-utils' ``reset_trace_globals``."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


def reset_metrics_globals() -> None:
    """The global meter provider back to the API's proxy (as ``reset_trace_globals``)."""
    internal = metrics._internal  # type: ignore[attr-defined]
    internal._METER_PROVIDER_SET_ONCE = Once()
    internal._METER_PROVIDER = None
    internal._PROXY_METER_PROVIDER = internal._ProxyMeterProvider()


@pytest.fixture
def clean_otel() -> Iterator[None]:
    reset_for_tests()
    reset_trace_globals()
    reset_metrics_globals()
    yield
    reset_for_tests()
    reset_trace_globals()
    reset_metrics_globals()


@dataclass
class Recorder:
    store: InMemorySessionStore
    handle: Handle
    provider: TracerProvider
    exporter: InMemorySpanExporter


@pytest.fixture
def recorder(clean_otel: None) -> Iterator[Recorder]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store = InMemorySessionStore()
    handle = configure(store=store, tracer_provider=provider)
    yield Recorder(store, handle, provider, exporter)
    handle.shutdown()
    provider.shutdown()


@contextmanager
def instrumented_store(*names: str) -> Iterator[InMemorySessionStore]:
    """``configure`` into a fresh memory store with the named instrumentations
    (``"openai"``, ``"anthropic"``, ...) on a provider of its own; undone on exit."""
    store = InMemorySessionStore()
    handle = configure(store=store, tracer_provider=TracerProvider(), instrument=names)
    try:
        yield store
    finally:
        for name in names:
            module, cls = _INSTRUMENTORS[name]
            getattr(importlib.import_module(module), cls)().uninstrument()
        handle.shutdown()
