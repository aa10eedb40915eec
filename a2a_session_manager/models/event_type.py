"""What kind of thing an event records.

Applications may use their own strings as well; ``SessionEvent.type`` keeps
unknown values as plain strings so they survive every store.
"""

from enum import StrEnum


class EventType(StrEnum):
    MESSAGE = "message"
    SUMMARY = "summary"
    TOOL_CALL = "tool_call"
    REFERENCE = "reference"
    CONTEXT_BRIDGE = "context_bridge"
    # What a call was given besides the conversation (models.payloads.Instructions).
    INSTRUCTIONS = "instructions"
