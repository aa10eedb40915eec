"""Session-aware tool processing: run the tool calls an LLM asks for and record
them (run, reply, each call) in a session. See :class:`SessionAwareToolProcessor`."""

from a2a_session_manager.tools._errors import (
    ToolArgumentsError,
    ToolProcessingError,
    ToolTimeoutError,
)
from a2a_session_manager.tools._parsing import ParsedReply, ToolCall, parse_reply
from a2a_session_manager.tools._processor import (
    INVALID_TOOL_CALL,
    LLM_RETRY,
    SessionAwareToolProcessor,
)
from a2a_session_manager.tools._results import ToolResult

__all__ = [
    "INVALID_TOOL_CALL",
    "LLM_RETRY",
    "ParsedReply",
    "SessionAwareToolProcessor",
    "ToolArgumentsError",
    "ToolCall",
    "ToolProcessingError",
    "ToolResult",
    "ToolTimeoutError",
    "parse_reply",
]
