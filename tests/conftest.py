"""Shared test set-up. Real services (redis-server, the local OpenAI-compatible
server, the OTLP receiver) live in tests/support/ as pytest plugins."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from a2a_session_manager.storage import InMemorySessionStore, SessionStoreProvider

# LiteLLM fetches its model price map over the network at import unless told
# not to (tests/test_litellm_sessions.py checks that no connection leaves loopback).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Cached rank tables (tokens/_rank_table.py) go to a test directory, not the user's cache.
os.environ.setdefault(
    "A2A_SESSIONS_TOKENS_CACHE", os.path.join(tempfile.gettempdir(), "a2a-tests-tokens-cache")
)

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
