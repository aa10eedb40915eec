"""Who produced an event."""

from enum import StrEnum


class EventSource(StrEnum):
    USER = "user"
    LLM = "llm"
    SYSTEM = "system"
    TOOL = "tool"
