"""The seed's import path for the tool processor (``a2a_session_manager.tools``)."""

from a2a_session_manager.tools import (
    SessionAwareToolProcessor,
    ToolProcessingError,
    ToolResult,
)

__all__ = ["SessionAwareToolProcessor", "ToolProcessingError", "ToolResult"]
