"""``configure()`` and the application's tracer provider: OTLP from the
environment is added only to a provider ``configure`` created, so a
collector gets each span once; and a provider ``configure`` cannot use (a
non-SDK global, or the application's set after ours) is explained, once.

The OTLP exporter is the real OTLP/HTTP exporter, the collector a real
receiver (tests/support/otlp_receiver.py) behind a tap that counts each
delivery (the receiver keeps one row per span id, so it cannot show a
duplicate)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

import a2a_session_manager as asm
from a2a_session_manager.storage import InMemorySessionStore
from tests.support.otel import clean_otel
from tests.support.otlp_receiver import PROJECT_ATTRIBUTE, OtlpReceiver
from tests.support.otlp_tap import OtlpTap, running_tap

__all__ = ["clean_otel"]

SDK_LOGGER = "a2a_session_manager.sdk"


@asm.tool
def lookup(topic: str) -> str:
    return f"notes on {topic}"


@pytest.fixture
def tap(otlp_receiver: OtlpReceiver) -> Iterator[OtlpTap]:
    yield from running_tap(otlp_receiver.endpoint)


@pytest.fixture
def otlp_env(monkeypatch: pytest.MonkeyPatch, tap: OtlpTap) -> str:
    """``OTEL_EXPORTER_OTLP_ENDPOINT`` naming the collector, as in a deployment."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", tap.base_url)
    return tap.base_url


@pytest.fixture
def project() -> str:
    return f"asm-providers-{uuid4().hex[:12]}"


@pytest.fixture
def app_provider(project: str, otlp_env: str, clean_otel: None) -> Iterator[TracerProvider]:
    """The application's provider with its own OTLP exporter (reading the same
    environment, as ``opentelemetry-instrument`` would set it up)."""
    provider = TracerProvider(resource=Resource.create({PROJECT_ATTRIBUTE: project}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    yield provider
    provider.shutdown()


def record_one_session(session_id: str) -> None:
    with asm.session(session_id), asm.run("agent"):
        assert lookup("otlp") == "notes on otlp"


def settle(receiver: OtlpReceiver, project: str) -> list[dict[str, Any]]:
    """Everything exported so far, once the receiver has taken it all in: a
    marker span sent after every flush arrives after it."""
    provider = TracerProvider(
        sampler=ALWAYS_ON, resource=Resource.create({PROJECT_ATTRIBUTE: project})
    )
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=receiver.endpoint)))
    provider.get_tracer("marker").start_span("marker").end()
    provider.shutdown()
    spans = receiver.wait_for_spans(project, lambda s: "marker" in {x["name"] for x in s})
    return [s for s in spans if s["name"] != "marker"]


@pytest.mark.parametrize("how", ["global", "explicit"])
def test_an_application_provider_with_its_own_exporter_sends_each_span_once(
    how: str,
    app_provider: TracerProvider,
    otlp_receiver: OtlpReceiver,
    tap: OtlpTap,
    project: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = InMemorySessionStore()
    caplog.set_level(logging.INFO, logger=SDK_LOGGER)
    explicit = app_provider if how == "explicit" else None
    if explicit is None:
        trace.set_tracer_provider(app_provider)
    handle = asm.configure(store=store, tracer_provider=explicit)
    assert asm.configure(store=store, tracer_provider=explicit) is handle
    assert handle.tracer_provider is app_provider and handle.otlp_processor is None

    record_one_session("once")
    assert handle.force_flush() and app_provider.force_flush()
    spans = settle(otlp_receiver, project)

    expected = {"session once", "invoke_agent agent", "execute_tool lookup"}
    assert {s["name"] for s in spans} == expected  # the receiver has them all
    delivered = tap.deliveries()
    assert {name for name, _ in delivered} == expected
    assert set(delivered.values()) == {1}  # each span delivered once
    stored = store.get("once")
    assert stored is not None and [r.name for r in stored.runs] == ["agent"]
    notes = [r.getMessage() for r in caplog.records if "adds no OTLP exporter" in r.getMessage()]
    assert len(notes) == 1  # said once, not on every configure()


def test_the_argument_still_adds_an_exporter_to_an_application_provider(
    app_provider: TracerProvider, otlp_receiver: OtlpReceiver
) -> None:
    handle = asm.configure(
        store=InMemorySessionStore(),
        tracer_provider=app_provider,
        otlp_endpoint=otlp_receiver.endpoint,
    )
    assert handle.otlp_processor is not None  # asked for by argument: added


def test_a_provider_of_our_own_exports_from_the_environment_once(
    otlp_env: str,
    otlp_receiver: OtlpReceiver,
    tap: OtlpTap,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
    clean_otel: None,
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"{PROJECT_ATTRIBUTE}={project}")
    handle = asm.configure(store=InMemorySessionStore())
    assert asm.configure(store=InMemorySessionStore()) is handle  # no second exporter
    try:
        record_one_session("ours")
        assert handle.force_flush()
        spans = settle(otlp_receiver, project)
    finally:
        handle.shutdown()
    expected = {"session ours", "invoke_agent agent", "execute_tool lookup"}
    assert {s["name"] for s in spans} == expected
    delivered = tap.deliveries()
    assert {name for name, _ in delivered} == expected
    assert set(delivered.values()) == {1}


def test_an_application_provider_set_after_ours_is_explained_once(
    clean_otel: None, caplog: pytest.LogCaptureFixture
) -> None:
    handle = asm.configure(store=InMemorySessionStore())
    ours = trace.get_tracer_provider()
    assert ours is handle.tracer_provider
    with caplog.at_level(logging.WARNING):
        trace.set_tracer_provider(TracerProvider())  # the application's, too late
        trace.set_tracer_provider(TracerProvider())
    explained = [r for r in caplog.records if r.name == SDK_LOGGER]
    assert len(explained) == 1
    message = explained[0].getMessage()
    assert "exporters of the application's provider receive nothing" in message
    assert "configure(tracer_provider=" in message
    assert trace.get_tracer_provider() is ours  # OpenTelemetry keeps the first


def test_an_application_provider_set_first_is_used_and_not_warned_about(
    clean_otel: None, caplog: pytest.LogCaptureFixture
) -> None:
    app = TracerProvider()
    trace.set_tracer_provider(app)
    with caplog.at_level(logging.WARNING):
        handle = asm.configure(store=InMemorySessionStore())
        trace.set_tracer_provider(TracerProvider())  # refused, but ours is not involved
    assert handle.tracer_provider is app
    assert not [r for r in caplog.records if r.name == SDK_LOGGER]


def test_a_global_provider_that_is_not_the_sdks_is_explained_once(
    clean_otel: None, caplog: pytest.LogCaptureFixture
) -> None:
    trace.set_tracer_provider(trace.NoOpTracerProvider())
    with caplog.at_level(logging.WARNING, logger=SDK_LOGGER):
        first = asm.configure(store=InMemorySessionStore())
        asm.configure(store=InMemorySessionStore())
    (warning,) = [r.getMessage() for r in caplog.records if r.name == SDK_LOGGER]
    assert "NoOpTracerProvider" in warning and "configure(tracer_provider=...)" in warning
    assert isinstance(first.tracer_provider, TracerProvider)
