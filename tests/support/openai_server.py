"""pytest plugin: the local OpenAI-compatible server, real clients for it, and
an instrumented OpenAI client whose spans land in memory.

Fixtures:

- ``openai_server``: a started :class:`~a2a_session_manager.testing.LocalOpenAIServer`
  (``base_url``, ``queue(...)``, ``requests``), stopped after the test.
- ``openai_client`` / ``async_openai_client``: real ``openai.OpenAI`` /
  ``openai.AsyncOpenAI`` clients pointed at it (``api_key="test"``, ``max_retries=0``).
- ``openai_spans``: ``OpenAIInstrumentor`` instrumented with its own
  ``TracerProvider`` whose spans go to the returned ``InMemorySpanExporter``;
  uninstrumented after the test. Message content is on the spans
  (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY``, the
  conventions' opt-in; without it content goes to the session store only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.testing import LocalOpenAIServer


@pytest.fixture
def openai_server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer() as server:
        yield server


@pytest.fixture
def openai_client(openai_server: LocalOpenAIServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=openai_server.base_url, api_key="test", max_retries=0)
    yield client
    client.close()


@pytest.fixture
async def async_openai_client(
    openai_server: LocalOpenAIServer,
) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="test", max_retries=0)
    yield client
    await client.close()


@pytest.fixture
def openai_spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    yield exporter
    instrumentor.uninstrument()
    provider.shutdown()
