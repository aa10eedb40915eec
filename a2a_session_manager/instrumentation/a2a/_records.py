"""What one A2A call carried, read from the a2a-sdk's protobuf objects.

``Exchange`` keeps, for one span, the conventions' attributes (task id and
latest state, message id, ``contextId``), read as the call goes, and a
snapshot of each protocol object it saw. The ``semconv.A2A_EXCHANGE``
records the exporter turns into session events (each message once, by
message id; each task state once; each artifact) are built from those
snapshots later, in the session mapper's thread, or at the span's end when
spans carry content (benchmarks/bench_a2a.py: with the W3C headers and the
attributes set at the end, the caller's thread CPU added per call went from
~78 to ~55 µs).
"""

from __future__ import annotations

import json
import time
from typing import Any

from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]

from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._json import to_json_text

_ROLES = {1: "user", 2: "agent"}  # a2a Role enum values
_ENVELOPES = frozenset({"StreamResponse", "SendMessageResponse"})

# (when this side saw it, the protobuf class, its wire bytes): protobuf
# messages are mutable and the caller keeps them, so what is read later is a
# copy (serializing is C code, well under a µs for a typical message).
Snapshot = tuple[int, Any, bytes]


_STATE_NAMES: dict[int, str] = {}


def _state_name(state: int) -> str:
    name = _STATE_NAMES.get(state)
    if name is None:
        from a2a.types.a2a_pb2 import TaskState

        try:
            name = str(TaskState.Name(state))  # type: ignore[arg-type]
        except ValueError:
            name = str(state)
        _STATE_NAMES[state] = name
    return name


class Exchange:
    """The attributes of one A2A span and snapshots for its records, filled as the call goes."""

    __slots__ = (
        "_kept_states",
        "context_id",
        "message_id",
        "reference_task_ids",
        "snapshots",
        "span_attributes",
        "task_id",
        "task_state",
        "tenant",
    )

    def __init__(self) -> None:
        # What the wrapper knew before the call (card, session): set with the rest at the end.
        self.span_attributes: dict[str, Any] = {}
        self.snapshots: list[Snapshot] = []
        # (task, state) of kept statuses with no message: made when one comes.
        self._kept_states: set[tuple[str, str]] | None = None
        self.context_id: str | None = None
        self.task_id: str | None = None
        self.task_state: str | None = None
        self.message_id: str | None = None
        self.reference_task_ids: tuple[str, ...] = ()
        self.tenant: str | None = None

    # -- requests ------------------------------------------------------------
    def request(self, request: Any) -> None:
        """A SendMessageRequest, GetTaskRequest, CancelTaskRequest or SubscribeToTaskRequest."""
        tenant = getattr(request, "tenant", "")
        if tenant:
            self.tenant = tenant
        if type(request).__name__ == "SendMessageRequest":
            message = request.message
            self.message_id = message.message_id or None
            references = message.reference_task_ids
            if references:
                self.reference_task_ids = tuple(references)
            self._message(message)
            self.snapshots.append((time.time_ns(), type(message), message.SerializeToString()))
        else:
            self._task(request.id, None)

    # -- results -------------------------------------------------------------
    def result(self, result: Any) -> None:
        """A Task, Message, StreamResponse, SendMessageResponse or update event."""
        if result is None:
            return
        name = type(result).__name__  # the protobuf message's name
        if name in _ENVELOPES:
            kind = result.WhichOneof("payload")
            if kind is None:
                return
            result = getattr(result, kind)
            name = type(result).__name__
        if name == "Task":
            self._task_object(result)
        elif name == "Message":
            self._message(result)
        elif name == "TaskStatusUpdateEvent":
            self._context(result.context_id)
            if not self._status(result.task_id, result.status):
                return  # a state seen before, with no message: adds no record
        elif name == "TaskArtifactUpdateEvent":
            self._context(result.context_id)
        else:
            return
        self.snapshots.append((time.time_ns(), type(result), result.SerializeToString()))

    # The attributes follow the records' reading order (see _Records): the
    # last non-empty id read wins.
    def _task_object(self, task: Any) -> None:
        context_id = task.context_id
        if context_id:
            self.context_id = context_id
        history = task.history
        if history:
            for message in reversed(history):  # the last one naming a context wins
                if message.context_id:
                    self.context_id = message.context_id
                    break
            for message in reversed(history):
                if message.task_id:
                    self.task_id = message.task_id
                    break
        self._status(task.id, task.status)

    def _message(self, message: Any) -> None:
        context_id, task_id = message.context_id, message.task_id
        if context_id:
            self.context_id = context_id
        if task_id:
            self.task_id = task_id

    def _status(self, task_id: str, status: Any) -> bool:
        """Read a status; ``False`` if it can add no record (streams repeat ``working``)."""
        state = _STATE_NAMES.get(status.state) or _state_name(status.state)
        if task_id:
            self.task_id = task_id
        self.task_state = state
        if status.HasField("message"):
            self._message(status.message)
            return True
        key = (task_id, state)
        kept = self._kept_states
        if kept is None:
            self._kept_states = {key}
        elif key in kept:
            return False
        else:
            kept.add(key)
        return True

    def _task(self, task_id: str, state: str | None) -> None:
        if task_id:
            self.task_id = task_id
        if state is not None:
            self.task_state = state

    def _context(self, context_id: str) -> None:
        if context_id:
            self.context_id = context_id

    # -- the span ------------------------------------------------------------
    def attributes(self) -> dict[str, Any]:
        """The conventions' attributes; the records are handed over apart
        (:meth:`records_json`, or deferred to the session mapper)."""
        attributes = self.span_attributes
        if self.message_id:
            attributes[semconv.A2A_PROTOCOL_MESSAGE_ID] = self.message_id
        if self.task_id:
            attributes[semconv.A2A_PROTOCOL_TASK_ID] = self.task_id
        if self.task_state:
            attributes[semconv.A2A_PROTOCOL_TASK_STATE] = self.task_state
        if self.tenant:
            attributes[semconv.A2A_PROTOCOL_TENANT] = self.tenant
        if self.context_id:
            attributes[semconv.GEN_AI_CONVERSATION_ID] = self.context_id
        if self.reference_task_ids:
            attributes[semconv.A2A_PROTOCOL_REFERENCE_TASK_IDS] = self.reference_task_ids
        return attributes

    def records_json(self) -> str:
        """The records as the ``semconv.A2A_EXCHANGE`` attribute's JSON text."""
        return _json(records(self.snapshots))

    def records_plain(self) -> dict[str, Any]:
        """``semconv.A2A_EXCHANGE`` as plain JSON values (what ``json.loads`` of
        the attribute gives): the deferred-content producer's answer."""
        return {semconv.A2A_EXCHANGE: json.loads(self.records_json())}


def records(snapshots: list[Snapshot]) -> list[dict[str, Any]]:
    """The ``semconv.A2A_EXCHANGE`` records of what ``snapshots`` hold, in order."""
    builder = _Records()
    for seen_at, cls, data in snapshots:
        builder.seen_at = seen_at
        builder.add(cls.FromString(data))
    return builder.records


class _Records:
    """Each message once (by message id), each task state once, each artifact."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.seen_at = 0
        self._messages: set[str] = set()
        self._states: set[tuple[str, str]] = set()
        self._artifacts: set[tuple[str, str, str]] = set()

    def add(self, item: Any) -> None:
        name = type(item).__name__
        if name == "Task":
            self.task(item)
        elif name == "Message":
            self.message(item)
        elif name == "TaskStatusUpdateEvent":
            self.status(item.task_id, item.status)
        elif name == "TaskArtifactUpdateEvent":
            self.artifact(item.task_id, item.artifact)

    def task(self, task: Any) -> None:
        for message in task.history:
            self.message(message)
        for artifact in task.artifacts:
            self.artifact(task.id, artifact)
        self.status(task.id, task.status)

    def message(self, message: Any) -> None:
        key = message.message_id
        if key in self._messages:
            return
        self._messages.add(key)
        self._record(
            {
                "kind": "message",
                "message_id": key,
                "role": _ROLES.get(message.role, "unspecified"),
                "parts": _parts(message.parts),
                "task_id": message.task_id or None,
                "context_id": message.context_id or None,
                "reference_task_ids": list(message.reference_task_ids),
            }
        )

    def status(self, task_id: str, status: Any) -> None:
        state = _state_name(status.state)
        if status.HasField("message"):
            self.message(status.message)
        if (task_id, state) in self._states:
            return
        self._states.add((task_id, state))
        self._record({"kind": "status", "task_id": task_id, "state": state})

    def artifact(self, task_id: str, artifact: Any) -> None:
        parts = _parts(artifact.parts)
        key = (task_id, artifact.artifact_id, repr(parts))
        if key in self._artifacts:
            return
        self._artifacts.add(key)
        self._record(
            {
                "kind": "artifact",
                "task_id": task_id,
                "artifact_id": artifact.artifact_id,
                "name": artifact.name or None,
                "parts": parts,
            }
        )

    def _record(self, record: dict[str, Any]) -> None:
        record["time_unix_nano"] = self.seen_at  # when this side saw it
        self.records.append(record)


def _parts(parts: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        kind = part.WhichOneof("content")
        if kind == "text":
            out.append({"type": "text", "content": part.text})
        elif kind == "data":
            out.append({"type": "data", "content": MessageToDict(part.data)})
        elif kind == "url":
            out.append({"type": "uri", "uri": part.url, "mime_type": part.media_type or None})
        elif kind == "raw":
            out.append(
                {"type": "blob", "size": len(part.raw), "mime_type": part.media_type or None}
            )
    return out


def _json(records: list[dict[str, Any]]) -> str:
    # Built from protobuf strings, numbers and MessageToDict output: plain JSON
    # (the checked encoder's walk cost 5x the span in benchmarks/bench_a2a.py).
    try:
        return json.dumps(records, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return to_json_text(records)
