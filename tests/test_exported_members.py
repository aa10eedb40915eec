"""The public API is what ``__all__`` says, and every name resolves:
a name added or removed here is a decision, not an accident."""

from __future__ import annotations

import importlib

import pytest

import a2a_session_manager

PUBLIC_MODULES = [
    "a2a_session_manager",
    "a2a_session_manager.models",
    "a2a_session_manager.storage",
    "a2a_session_manager.prompts",
    "a2a_session_manager.tokens",
    "a2a_session_manager.sdk",
    "a2a_session_manager.exporters",
    "a2a_session_manager.tools",
    "a2a_session_manager.reports",
    "a2a_session_manager.testing",
    "a2a_session_manager.instrumentation.openai",
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_exported_name_exists_once(module_name: str) -> None:
    # (ruff's RUF022 keeps each __all__ sorted)
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(module, name) is not None, name


def test_top_level_api() -> None:
    assert set(a2a_session_manager.__all__) == {
        "EventSource", "EventType", "Handle", "InMemorySessionStore", "RunStatus", "Session",
        "SessionAwareToolProcessor", "SessionCorruptedError", "SessionEvent",
        "SessionMetadata", "SessionNotFoundError", "SessionRun", "SessionStore",
        "SessionStoreProvider", "StoreError", "StoreUnavailableError", "TokenSummary",
        "TokenUsage", "ToolProcessingError", "ToolResult", "__version__", "configure",
        "create_file_session_store", "create_redis_session_store", "create_store",
        "current_run_id", "current_session_id", "extract", "get_tool", "inject",
        "record_event", "run", "session", "tool", "tool_registry", "wrap_context",
    }  # fmt: skip


def test_package_is_typed() -> None:
    from importlib import resources

    assert resources.files("a2a_session_manager").joinpath("py.typed").is_file()
