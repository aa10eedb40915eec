"""The conversation: each message with the tool calls it asked for folded under it."""

from __future__ import annotations

from dataclasses import dataclass, field

from a2a_session_manager.models.event_order import events_in_run_order
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.payloads import (
    RETRY_OF,
    Instructions,
    LLMMessage,
    ToolCallRecord,
    ToolCallRequest,
    read_instructions,
)
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.tool_links import ToolCallLinks
from a2a_session_manager.reports._content import (
    aware,
    call_failure,
    is_tool_call,
    llm_message,
    message_text,
    requested_tool_calls,
    tool_call_record,
)
from a2a_session_manager.reports._format import format_clock


@dataclass(frozen=True)
class ToolCallView:
    event: SessionEvent
    record: ToolCallRecord


@dataclass
class ConversationEntry:
    """A message (or a tool call nobody is known to have asked for)."""

    event: SessionEvent
    text: str
    requested: list[ToolCallRequest]
    tool_calls: list[ToolCallView] = field(default_factory=list)
    llm: LLMMessage | None = None  # the payload of an LLM event
    instructions: Instructions | None = None  # the payload of an INSTRUCTIONS event
    retried: ConversationEntry | None = None  # the unfinished call this one retried

    @property
    def failure(self) -> str:
        """How the call failed or was interrupted ("" when it did not)."""
        return call_failure(self.llm) if self.llm is not None else ""

    @property
    def retry(self) -> str:
        """Which unfinished call this call retried ("" when none): its
        messages were recorded once, with that attempt."""
        if self.retried is None:
            return ""
        how = "failed" if self.retried.llm and self.retried.llm.error else "interrupted"
        at = format_clock(aware(self.retried.event.timestamp))
        return f"retry of the {how} call above ({at})"


def conversation(session: Session) -> list[ConversationEntry]:
    """Entries in run order (each run's events together, see
    :mod:`~a2a_session_manager.models.event_order`). A TOOL_CALL event is
    folded under the reply that asked for it
    (:mod:`~a2a_session_manager.models.tool_links`); otherwise it stands on
    its own."""
    entries: list[ConversationEntry] = []
    by_event_id: dict[str, ConversationEntry] = {}
    links = ToolCallLinks()
    for event in events_in_run_order(session.events, session.runs):
        if is_tool_call(event):
            record = tool_call_record(event)
            view = ToolCallView(event, record)
            owner_id = links.owner(event, record)
            owner = by_event_id.get(owner_id) if owner_id is not None else None
            if owner is not None:
                owner.tool_calls.append(view)
                continue
            entry = ConversationEntry(event, "", [], [view])
        else:
            llm = llm_message(event)
            if llm is not None:
                links.add_reply(event, llm)
            entry = ConversationEntry(
                event,
                message_text(event),
                requested_tool_calls(event),
                llm=llm,
                instructions=(
                    read_instructions(event.message)
                    if event.type == EventType.INSTRUCTIONS
                    else None
                ),
            )
        retried = event.metadata.get(RETRY_OF)
        if isinstance(retried, str):
            entry.retried = by_event_id.get(retried)
        by_event_id[event.id] = entry
        entries.append(entry)
    return entries
