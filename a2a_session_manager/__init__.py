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
    Handle,
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
    SessionCorruptedError,
    SessionNotFoundError,
    SessionStore,
    SessionStoreProvider,
    StoreError,
    StoreUnavailableError,
    create_file_session_store,
    create_redis_session_store,
    create_store,
)
from a2a_session_manager.tools import (
    SessionAwareToolProcessor,
    ToolProcessingError,
    ToolResult,
)

try:
    __version__ = version("a2a-session-manager")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "EventSource",
    "EventType",
    "Handle",
    "InMemorySessionStore",
    "RunStatus",
    "Session",
    "SessionAwareToolProcessor",
    "SessionCorruptedError",
    "SessionEvent",
    "SessionMetadata",
    "SessionNotFoundError",
    "SessionRun",
    "SessionStore",
    "SessionStoreProvider",
    "StoreError",
    "StoreUnavailableError",
    "TokenSummary",
    "TokenUsage",
    "ToolProcessingError",
    "ToolResult",
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
