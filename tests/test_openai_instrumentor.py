"""Instrumentor lifecycle: wrap, unwrap, idempotence, entry point, missing openai."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points

import openai
import pytest
import wrapt
from openai.resources.chat.completions import AsyncCompletions, Completions
from openai.resources.responses import AsyncResponses, Responses
from opentelemetry.instrumentation.distro import DefaultDistro
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor

USER = [{"role": "user", "content": "hi"}]
METHODS = [
    (Completions, "create"),
    (Completions, "parse"),
    (AsyncCompletions, "create"),
    (AsyncCompletions, "parse"),
    (Responses, "create"),
    (Responses, "parse"),
    (AsyncResponses, "create"),
    (AsyncResponses, "parse"),
]


@pytest.fixture
def provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracer_provider, exporter
    if OpenAIInstrumentor().is_instrumented_by_opentelemetry:
        OpenAIInstrumentor().uninstrument()
    tracer_provider.shutdown()


def test_uninstrument_restores_the_original_methods(
    provider: tuple[TracerProvider, InMemorySpanExporter], openai_client: openai.OpenAI
) -> None:
    tracer_provider, exporter = provider
    originals = {(cls, name): cls.__dict__[name] for cls, name in METHODS}

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    assert all(cls.__dict__[name] is not originals[cls, name] for cls, name in METHODS)
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert len(exporter.get_finished_spans()) == 1

    OpenAIInstrumentor().uninstrument()
    assert all(cls.__dict__[name] is originals[cls, name] for cls, name in METHODS)
    assert Completions.create is originals[Completions, "create"]
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert len(exporter.get_finished_spans()) == 1


def test_instrument_twice_records_each_call_once(
    provider: tuple[TracerProvider, InMemorySpanExporter], openai_client: openai.OpenAI
) -> None:
    tracer_provider, exporter = provider
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert len(exporter.get_finished_spans()) == 1


def test_entry_point_is_found_and_adds_no_duplicate(
    provider: tuple[TracerProvider, InMemorySpanExporter], openai_client: openai.OpenAI
) -> None:
    tracer_provider, exporter = provider
    # Other packages (OpenLLMetry's, say) may register an "openai" entry point too.
    (entry_point,) = [
        ep
        for ep in entry_points(group="opentelemetry_instrumentor")
        if ep.value.startswith("a2a_session_manager.instrumentation.openai:")
    ]
    assert entry_point.load() is OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    # What ``opentelemetry-instrument`` does with every entry point:
    DefaultDistro().load_instrumentor(entry_point, tracer_provider=tracer_provider)
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert len(exporter.get_finished_spans()) == 1


def test_entry_point_alone_instruments(
    provider: tuple[TracerProvider, InMemorySpanExporter], openai_client: openai.OpenAI
) -> None:
    tracer_provider, exporter = provider
    # Other packages (OpenLLMetry's, say) may register an "openai" entry point too.
    (entry_point,) = [
        ep
        for ep in entry_points(group="opentelemetry_instrumentor")
        if ep.value.startswith("a2a_session_manager.instrumentation.openai:")
    ]
    DefaultDistro().load_instrumentor(entry_point, tracer_provider=tracer_provider)
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert [s.name for s in exporter.get_finished_spans()] == ["chat gpt-4o-mini"]


def test_uninstrument_twice_is_harmless(
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    tracer_provider, _ = provider
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    OpenAIInstrumentor().uninstrument()
    OpenAIInstrumentor().uninstrument()
    assert not isinstance(Completions.__dict__["create"], wrapt.ObjectProxy)
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry


def test_without_openai_instrument_is_a_noop_with_one_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # ``import openai`` now fails
    caplog.set_level(logging.DEBUG)
    assert OpenAIInstrumentor().instrument() is None
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in records] == [
        "openai is not installed: OpenAIInstrumentor.instrument() does nothing"
    ]


def test_chat_span_is_a_child_of_the_current_span(
    provider: tuple[TracerProvider, InMemorySpanExporter], openai_client: openai.OpenAI
) -> None:
    tracer_provider, exporter = provider
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    tracer = tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("agent") as parent:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    chat = next(s for s in exporter.get_finished_spans() if s.name.startswith("chat"))
    assert chat.parent is not None
    assert chat.parent.span_id == parent.get_span_context().span_id


def test_importing_the_instrumentation_does_not_import_openai() -> None:
    # So that a missing ``openai`` can only make instrument() a no-op, never an ImportError.
    code = (
        "import sys, a2a_session_manager.instrumentation.openai as m; "
        "print(m.__all__, 'openai' in sys.modules)"
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['OpenAIInstrumentor'] False"


def test_instrument_with_a_new_provider_moves_the_spans_there(
    provider: tuple[TracerProvider, InMemorySpanExporter], openai_client: openai.OpenAI
) -> None:
    old_provider, old_exporter = provider
    new_exporter = InMemorySpanExporter()
    new_provider = TracerProvider()
    new_provider.add_span_processor(SimpleSpanProcessor(new_exporter))
    OpenAIInstrumentor().instrument(tracer_provider=old_provider)
    OpenAIInstrumentor().instrument(tracer_provider=new_provider)
    OpenAIInstrumentor().instrument()  # as opentelemetry-instrument would: changes nothing
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert old_exporter.get_finished_spans() == ()
    assert len(new_exporter.get_finished_spans()) == 1
    new_provider.shutdown()
