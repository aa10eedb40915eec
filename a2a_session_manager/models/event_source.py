"""Who produced an event."""

from enum import Enum


class EventSource(str, Enum):
    USER = "user"
    LLM = "llm"
    SYSTEM = "system"
    TOOL = "tool"
