"""A session's events as conversation turns, in one pass.

A turn is one chat message, except that an assistant turn owns its tool
calls and their results: rendered, it is the assistant message followed by
exactly one ``tool`` message per call id, which is the pairing the chat API
requires. Strategies choose turns; any choice of turns renders valid.

Tool results are linked to the reply that asked for them by the one rule of
:mod:`a2a_session_manager.models.tool_links`, then to the call within it by
call id, else by tool name and arguments. Tool events linked to no reply (as
the seed library recorded them) get a synthesized assistant call so that the
result still has a call to answer. Failed calls (an LLM event with an
``error``) are not turns: the model said nothing. What an abandoned stream
delivered is a turn until a retry of that call answers instead.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.payloads import (
    RETRY_OF,
    ToolCallRecord,
    read_instructions,
    read_llm_message,
    read_tool_call,
    read_tool_call_request,
)
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.tool_links import ToolCallLinks
from a2a_session_manager.prompts.payloads import (
    arguments_text,
    message_text,
    recorded_call_id,
    synthetic_call_id,
    tool_result_text,
)

ChatMessage = dict[str, Any]
Role = Literal["system", "developer", "user", "assistant"]

# The content of a tool message whose result was never recorded: the API
# rejects a call without its answer, and saying so is better than hiding the call.
NO_RESULT = "[no result recorded]"


@dataclass
class ToolCall:
    id: str  # as sent in the prompt (safe, unique within its reply)
    name: str
    arguments: str
    result: str | None = None
    recorded_id: str | None = None  # as recorded, to match results


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
    # The system messages of the latest recorded instructions: the top of every prompt.
    system: list[Turn] = field(default_factory=list)

    def _last(self, role: Role) -> Turn | None:
        return next((t for t in reversed(self.turns) if t.role == role), None)

    @property
    def task(self) -> Turn | None:
        """The first user message: what the session is about."""
        return next((t for t in self.turns if t.role == "user"), None)

    @property
    def instructions(self) -> list[Turn]:
        """The recorded instructions, then the system messages before the first
        user or assistant turn (the system prompt)."""
        out: list[Turn] = list(self.system)
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
    """Builds the turns; links tool results to the calls that asked for them."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.instructions: SessionEvent | None = None  # the latest INSTRUCTIONS event
        self._links = ToolCallLinks()
        self._assistants: dict[str, Turn] = {}  # event id → assistant turn
        self._call_ids: set[str] = set()  # every call id in the prompt so far
        self._synthesized: Turn | None = None  # open synthesized turn, if last

    def add(self, event: SessionEvent) -> None:
        if event.type == EventType.TOOL_CALL or (
            event.type == EventType.MESSAGE and event.source == EventSource.TOOL
        ):
            self._tool(event)
            return
        parent = event.metadata.get("parent_event_id")
        if event.type == EventType.INSTRUCTIONS:
            self.instructions = event
        elif event.type == EventType.SUMMARY:
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
        retried = event.metadata.get(RETRY_OF)
        superseded = self._assistants.pop(retried, None) if isinstance(retried, str) else None
        if superseded is not None:
            # Only an unfinished reply is retried: its answer is this one.
            self.turns = [t for t in self.turns if t is not superseded]
        reply = read_llm_message(event.message)
        if reply.error is not None:
            return  # a failed call: the model said nothing
        if reply.interrupted is not None:
            # What a cut stream delivered of its text stands; half-sent calls do not.
            reply = reply.model_copy(update={"tool_calls": []})
            if not reply.content:
                return
        self._links.add_reply(event, reply)
        turn = Turn("assistant", reply.content, event.id)
        used: set[str] = set()
        for index, requested in enumerate(reply.tool_calls):
            # Ids may repeat across replies (each result answers the latest) but not within one.
            call_id = _fresh_id(recorded_call_id(requested.id), f"{event.id}_{index}", used)
            used.add(call_id)
            turn.tool_calls.append(
                ToolCall(
                    call_id,
                    requested.name or "unknown",
                    arguments_text(requested.arguments),
                    recorded_id=requested.id,
                )
            )
        self._call_ids |= used
        self._assistants[event.id] = turn
        self._append(turn)

    def _tool(self, event: SessionEvent) -> None:
        record = read_tool_call(event.message)
        content = tool_result_text(record, event.message)
        owner = self._links.owner(event, record)
        turn = self._assistants.get(owner) if owner is not None else None
        if turn is None:
            self._orphan(record, content, event.id)
            return
        if record.call_id is not None:
            call = next((c for c in turn.tool_calls if c.recorded_id == record.call_id), None)
            if call is not None:
                if call.result is None:
                    call.result = content
                return  # a second record of an answered call adds nothing
        pending = [c for c in turn.tool_calls if c.result is None]
        asked = read_tool_call_request({"arguments": record.arguments})
        arguments = arguments_text(asked.arguments if asked is not None else record.arguments)
        match = next(
            (c for c in pending if c.name == record.tool_name and c.arguments == arguments),
            None,
        ) or next((c for c in pending if not record.tool_name or c.name == record.tool_name), None)
        if match is not None:
            match.result = content
            return
        # The reply did not list this call (seed tool processor): add it to the reply.
        turn.tool_calls.append(self._new_call(record, content, event.id))

    def _orphan(self, record: ToolCallRecord, content: str, event_id: str) -> None:
        call = self._new_call(record, content, event_id)
        if self._synthesized is None:
            turn = Turn("assistant", None, f"synthesized-{event_id}")
            self._append(turn)
            self._synthesized = turn
        self._synthesized.tool_calls.append(call)

    def _new_call(self, record: ToolCallRecord, content: str, event_id: str) -> ToolCall:
        call_id = _fresh_id(recorded_call_id(record.call_id), event_id, self._call_ids)
        self._call_ids.add(call_id)
        arguments = None if record.arguments is None else arguments_text(record.arguments)
        return ToolCall(
            call_id, record.tool_name or "unknown", arguments or "{}", content, record.call_id
        )


def _fresh_id(preferred: str | None, seed: str, taken: Container[str]) -> str:
    call_id = preferred or synthetic_call_id(seed)
    attempt = 1
    while call_id in taken:
        attempt += 1
        call_id = synthetic_call_id(f"{seed}_{attempt}")
    return call_id


def instruction_turns(event: SessionEvent) -> list[Turn]:
    """The system (or developer) messages of an INSTRUCTIONS event."""
    return [
        Turn("developer" if m.role == "developer" else "system", message_text(m.content), event.id)
        for m in read_instructions(event.message).system
    ]


def conversation_from_events(
    events: Iterable[SessionEvent], instructions: SessionEvent | None = None
) -> Conversation:
    """The conversation that ``events`` recorded (one pass over the events).

    Its system prompt comes from the latest INSTRUCTIONS event among
    ``events``, else from ``instructions`` (recorded before them).
    """
    linker = _Linker()
    for event in events:
        linker.add(event)
    latest = linker.instructions or instructions
    return Conversation(linker.turns, instruction_turns(latest) if latest is not None else [])
