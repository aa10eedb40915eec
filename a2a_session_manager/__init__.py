"""A2A Session Manager: OpenTelemetry-native session recording for AI agents."""

from importlib.metadata import PackageNotFoundError, version

from a2a_session_manager.models import (
    EventSource,
    EventType,
    RunStatus,
    Session,
    SessionEvent,
    SessionMetadata,
    SessionRun,
    TokenSummary,
    TokenUsage,
)
from a2a_session_manager.sdk import (
    configure,
    current_run_id,
    current_session_id,
    extract,
    get_tool,
    inject,
    record_event,
    run,
    session,
    tool,
    tool_registry,
    wrap_context,
)
from a2a_session_manager.storage import (
    InMemorySessionStore,
    SessionStore,
    SessionStoreProvider,
    create_file_session_store,
    create_redis_session_store,
    create_store,
)

try:
    __version__ = version("a2a-session-manager")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "EventSource",
    "EventType",
    "InMemorySessionStore",
    "RunStatus",
    "Session",
    "SessionEvent",
    "SessionMetadata",
    "SessionRun",
    "SessionStore",
    "SessionStoreProvider",
    "TokenSummary",
    "TokenUsage",
    "__version__",
    "configure",
    "create_file_session_store",
    "create_redis_session_store",
    "create_store",
    "current_run_id",
    "current_session_id",
    "extract",
    "get_tool",
    "inject",
    "record_event",
    "run",
    "session",
    "tool",
    "tool_registry",
    "wrap_context",
]
