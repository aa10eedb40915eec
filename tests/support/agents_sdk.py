"""Fixtures for OpenAI Agents SDK tests: ``agents_store`` configures the SDK
with the ``openai`` and ``openai_agents`` instrumentations recording into a
fresh in-memory store (the SDK's own exporter to OpenAI's backend removed,
its tracing on); ``agents_client`` is an ``AsyncOpenAI`` client for the local
server. Import them into a test module (``from tests.support.agents_sdk import ...``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import openai
import pytest

from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.testing import LocalOpenAIServer
from tests.support.otel import instrumented_store


@pytest.fixture
def agents_store(clean_otel: None) -> Iterator[InMemorySessionStore]:
    agents = pytest.importorskip("agents")
    agents.set_trace_processors([])  # not the SDK's exporter to OpenAI's backend
    agents.set_tracing_disabled(False)
    with instrumented_store("openai", "openai_agents") as store:
        yield store
    agents.set_tracing_disabled(True)


@pytest.fixture
async def agents_client(openai_server: LocalOpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="test", max_retries=0)
    yield client
    await client.close()
