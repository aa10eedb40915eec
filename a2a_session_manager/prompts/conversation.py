"""A session's events as conversation turns, in one pass.

A turn is one chat message, except that an assistant turn owns its tool
calls and their results: rendered, it is the assistant message followed by
exactly one ``tool`` message per call id, which is the pairing the chat API
requires. Strategies choose turns; any choice of turns renders valid.

Tool results are linked to the call that asked for them by call id, else
through ``metadata["parent_event_id"]`` (by tool name and arguments). Tool
events with neither (as the seed library recorded them) get a synthesized
assistant call so that the result still has a call to answer.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.prompts.payloads import (
    ToolRecord,
    assistant_payload,
    message_text,
    synthetic_call_id,
    tool_record,
)

ChatMessage = dict[str, Any]
Role = Literal["system", "user", "assistant"]

# The content of a tool message whose result was never recorded: the API
# rejects a call without its answer, and saying so is better than hiding the call.
NO_RESULT = "[no result recorded]"


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str
    result: str | None = None


@dataclass
class Turn:
    role: Role
    content: str | None
    event_id: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    is_summary: bool = False
    parent_event_id: str | None = None

    def messages(self, *, compact: bool = False) -> list[ChatMessage]:
        """The chat messages of this turn; ``compact`` drops an assistant's
        text when it has tool calls (the calls and results say enough)."""
        if not self.tool_calls:
            return [{"role": self.role, "content": self.content or ""}]
        assistant: ChatMessage = {
            "role": "assistant",
            "content": None if compact else (self.content or None),
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self.tool_calls
            ],
        }
        results: list[ChatMessage] = [
            {
                "role": "tool",
                "tool_call_id": call.id,
                "content": NO_RESULT if call.result is None else call.result,
            }
            for call in self.tool_calls
        ]
        return [assistant, *results]


@dataclass
class Conversation:
    turns: list[Turn]

    def _last(self, role: Role) -> Turn | None:
        return next((t for t in reversed(self.turns) if t.role == role), None)

    @property
    def task(self) -> Turn | None:
        """The first user message: what the session is about."""
        return next((t for t in self.turns if t.role == "user"), None)

    @property
    def instructions(self) -> list[Turn]:
        """System messages before the first user or assistant turn (the system prompt)."""
        out: list[Turn] = []
        for turn in self.turns:
            if turn.role != "system":
                break
            if not turn.is_summary:
                out.append(turn)
        return out

    @property
    def latest_user(self) -> Turn | None:
        return self._last("user")

    @property
    def latest_assistant(self) -> Turn | None:
        return self._last("assistant")

    def summaries_of(self, event_id: str) -> list[Turn]:
        return [t for t in self.turns if t.is_summary and t.parent_event_id == event_id]


def render(turns: Iterable[Turn], *, compact: bool = False) -> list[ChatMessage]:
    return [message for turn in turns for message in turn.messages(compact=compact)]


class _Linker:
    """Builds the turns; keeps the indexes that link tool results to calls."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self._assistants: dict[str, Turn] = {}  # event id → assistant turn
        self._calls: dict[str, ToolCall] = {}  # call id → latest call with that id
        self._pending: dict[str, list[ToolCall]] = {}  # event id → its unanswered calls
        self._synthesized: Turn | None = None  # open synthesized turn, if last

    def add(self, event: SessionEvent) -> None:
        if event.type == EventType.TOOL_CALL or (
            event.type == EventType.MESSAGE and event.source == EventSource.TOOL
        ):
            self._tool(event)
            return
        parent = event.metadata.get("parent_event_id")
        if event.type == EventType.SUMMARY:
            text = message_text(event.message, "note", "summary", "content")
            self._append(
                Turn(
                    "system",
                    text,
                    event.id,
                    is_summary=True,
                    parent_event_id=parent if isinstance(parent, str) else None,
                )
            )
        elif event.type == EventType.MESSAGE and event.source == EventSource.USER:
            self._append(Turn("user", message_text(event.message), event.id))
        elif event.type == EventType.MESSAGE and event.source == EventSource.SYSTEM:
            self._append(Turn("system", message_text(event.message), event.id))
        elif event.type == EventType.MESSAGE and event.source == EventSource.LLM:
            self._assistant(event)
        # Other kinds (references, context bridges, custom types) are not chat messages.

    def _append(self, turn: Turn) -> None:
        self.turns.append(turn)
        self._synthesized = None

    def _assistant(self, event: SessionEvent) -> None:
        payload = assistant_payload(event.message)
        turn = Turn("assistant", payload.content, event.id)
        used: set[str] = set()
        for index, requested in enumerate(payload.calls):
            # Ids may repeat across replies (the latest wins) but not within one.
            call_id = _fresh_id(requested.id, f"{event.id}_{index}", used)
            used.add(call_id)
            call = ToolCall(call_id, requested.name, requested.arguments)
            turn.tool_calls.append(call)
            self._calls[call_id] = call
        self._assistants[event.id] = turn
        self._pending[event.id] = list(turn.tool_calls)
        self._append(turn)

    def _tool(self, event: SessionEvent) -> None:
        record = tool_record(event.message)
        if record.call_id is not None:
            call = self._calls.get(record.call_id)
            if call is not None:
                if call.result is None:
                    call.result = record.content
                return  # a second record of an answered call adds nothing
        parent_id = event.metadata.get("parent_event_id")
        parent = self._assistants.get(parent_id) if isinstance(parent_id, str) else None
        if parent is not None and isinstance(parent_id, str):
            self._answer_by_name(parent, parent_id, record, event.id)
            return
        self._orphan(record, event.id)

    def _answer_by_name(self, turn: Turn, turn_id: str, record: ToolRecord, event_id: str) -> None:
        pending = [c for c in self._pending.get(turn_id, ()) if c.result is None]
        self._pending[turn_id] = pending
        match = next(
            (c for c in pending if c.name == record.name and c.arguments == record.arguments),
            None,
        ) or next((c for c in pending if record.name is None or c.name == record.name), None)
        if match is not None:
            match.result = record.content
            return
        # The reply did not list this call (seed tool processor): add it to the reply.
        call = self._new_call(record, event_id)
        turn.tool_calls.append(call)

    def _orphan(self, record: ToolRecord, event_id: str) -> None:
        call = self._new_call(record, event_id)
        if self._synthesized is None:
            turn = Turn("assistant", None, f"synthesized-{event_id}")
            self._append(turn)
            self._synthesized = turn
        self._synthesized.tool_calls.append(call)

    def _new_call(self, record: ToolRecord, event_id: str) -> ToolCall:
        call_id = _fresh_id(record.call_id, event_id, self._calls)
        call = ToolCall(call_id, record.name or "unknown", record.arguments or "{}", record.content)
        self._calls[call_id] = call
        return call


def _fresh_id(preferred: str | None, seed: str, taken: Container[str]) -> str:
    call_id = preferred or synthetic_call_id(seed)
    attempt = 1
    while call_id in taken:
        attempt += 1
        call_id = synthetic_call_id(f"{seed}_{attempt}")
    return call_id


def conversation_from_events(events: Iterable[SessionEvent]) -> Conversation:
    """The conversation that ``events`` recorded (one pass over the events)."""
    linker = _Linker()
    for event in events:
        linker.add(event)
    return Conversation(linker.turns)
