"""The instrumentation API: ``configure``, ``session``, ``run``, ``tool``,
``record_event``, the current session and run, and context propagation."""

from a2a_session_manager.sdk._configure import Handle, configure
from a2a_session_manager.sdk._events import record_event
from a2a_session_manager.sdk._run import ActiveRun, Run, run
from a2a_session_manager.sdk._sampling import RecordEverySpan
from a2a_session_manager.sdk._session import ActiveSession, SessionScope, session
from a2a_session_manager.sdk._tool import ActiveTool, Tool, tool
from a2a_session_manager.sdk._tool_registry import RegisteredTool, get_tool, tool_registry
from a2a_session_manager.telemetry._context import (
    current_run_id,
    current_session_id,
    extract,
    inject,
    wrap_context,
)

__all__ = [
    "ActiveRun",
    "ActiveSession",
    "ActiveTool",
    "Handle",
    "RecordEverySpan",
    "RegisteredTool",
    "Run",
    "SessionScope",
    "Tool",
    "configure",
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
