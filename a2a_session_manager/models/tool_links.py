"""Which LLM reply asked for a tool result: the one rule every reader uses.

A tool result (a TOOL_CALL event, or a tool message) belongs to an earlier
LLM event:

1. the event its ``metadata["parent_event_id"]`` names, when that reply
   asked for the result's call id (or the result has no call id, or no
   reply asked for it);
2. else the latest earlier reply of the same run that asked for the call
   id, else the latest earlier reply of any run (ids such as ``call_0``
   repeat across replies and across concurrent runs);
3. else none: the result stands on its own.

Feed events in reading order (:func:`~a2a_session_manager.models.event_order.events_in_run_order`).
"""

from __future__ import annotations

from a2a_session_manager.models.payloads import LLMMessage, ToolCallRecord
from a2a_session_manager.models.session_event import SessionEvent


class ToolCallLinks:
    """Links tool results to replies, one event at a time, in order."""

    def __init__(self) -> None:
        self._requested: dict[str, set[str]] = {}  # reply event id → call ids it asked for
        self._latest_in_run: dict[tuple[str | None, str], str] = {}  # (run, call id) → reply
        self._latest: dict[str, str] = {}  # call id → latest reply asking for it

    def add_reply(self, event: SessionEvent, message: LLMMessage) -> None:
        """Note an LLM event and the calls it asked for."""
        ids = {call.id for call in message.tool_calls if call.id}
        self._requested[event.id] = ids
        for call_id in ids:
            self._latest_in_run[(event.task_id, call_id)] = event.id
            self._latest[call_id] = event.id

    def owner(self, event: SessionEvent, record: ToolCallRecord) -> str | None:
        """The id of the reply that asked for this tool result, if any."""
        parent_id = event.metadata.get("parent_event_id")
        parent = parent_id if isinstance(parent_id, str) and parent_id in self._requested else None
        call_id = record.call_id
        if not call_id or (parent is not None and call_id in self._requested[parent]):
            return parent
        return self._latest_in_run.get((event.task_id, call_id)) or self._latest.get(
            call_id, parent
        )
