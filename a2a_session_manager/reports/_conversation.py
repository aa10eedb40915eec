"""The conversation: each message with the tool calls it asked for folded under it."""

from __future__ import annotations

from dataclasses import dataclass, field

from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.reports._content import (
    RequestedToolCall,
    ToolCallRecord,
    is_tool_call,
    message_text,
    requested_tool_calls,
    tool_call_record,
)


@dataclass(frozen=True)
class ToolCallView:
    event: SessionEvent
    record: ToolCallRecord


@dataclass
class ConversationEntry:
    """A message (or a tool call nobody is known to have asked for)."""

    event: SessionEvent
    text: str
    requested: list[RequestedToolCall]
    tool_calls: list[ToolCallView] = field(default_factory=list)


def conversation(session: Session) -> list[ConversationEntry]:
    """Entries in recorded order. A TOOL_CALL event is folded under the event
    named by its ``metadata["parent_event_id"]``, else under the latest earlier
    message that requested its call id; otherwise it stands on its own."""
    entries: list[ConversationEntry] = []
    by_event_id: dict[str, ConversationEntry] = {}
    by_call_id: dict[str, ConversationEntry] = {}
    for event in session.events:
        if is_tool_call(event):
            record = tool_call_record(event)
            view = ToolCallView(event, record)
            parent_id = event.metadata.get("parent_event_id")
            owner = by_event_id.get(parent_id) if isinstance(parent_id, str) else None
            if owner is None and record.call_id is not None:
                owner = by_call_id.get(record.call_id)
            if owner is not None:
                owner.tool_calls.append(view)
                continue
            entry = ConversationEntry(event, "", [], [view])
        else:
            entry = ConversationEntry(event, message_text(event), requested_tool_calls(event))
            for call in entry.requested:
                if call.call_id is not None:
                    by_call_id[call.call_id] = entry
        by_event_id[event.id] = entry
        entries.append(entry)
    return entries
