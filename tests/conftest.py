"""Shared test set-up. Real services (redis-server, the local OpenAI-compatible
server, the OTLP receiver) live in tests/support/ as pytest plugins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from a2a_session_manager.storage import InMemorySessionStore, SessionStoreProvider

pytest_plugins: list[str] = [
    # each helper adds its plugin module here, one line each:
    "tests.support.openai_server",
    "tests.support.anthropic_server",
    "tests.support.redis_server",
    "tests.support.redis_cluster",
    "tests.support.otlp_receiver",
    "tests.support.otlp_metrics_receiver",
    "tests.support.otel",
    "tests.support.peers",
]


@pytest.fixture(autouse=True)
def _fresh_store_provider() -> Iterator[None]:
    """Each test starts with a new in-memory store as the application's store."""
    SessionStoreProvider.set_store(InMemorySessionStore())
    yield
    SessionStoreProvider.reset()
