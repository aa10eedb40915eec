"""Pydantic models shared by every layer: sessions, runs, events, token usage."""

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.hierarchy import ParentLink
from a2a_session_manager.models.payloads import (
    InstructionMessage,
    Instructions,
    LLMError,
    LLMMessage,
    ToolCallRecord,
    ToolCallRequest,
    read_instructions,
    read_llm_message,
    read_tool_call,
    read_tool_call_request,
)
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.session_run import RunStatus, SessionRun
from a2a_session_manager.models.token_usage import TokenSummary, TokenUsage

__all__ = [
    "EventSource",
    "EventType",
    "InstructionMessage",
    "Instructions",
    "LLMError",
    "LLMMessage",
    "ParentLink",
    "RunStatus",
    "Session",
    "SessionEvent",
    "SessionMetadata",
    "SessionRun",
    "TokenSummary",
    "TokenUsage",
    "ToolCallRecord",
    "ToolCallRequest",
    "read_instructions",
    "read_llm_message",
    "read_tool_call",
    "read_tool_call_request",
]
