"""A2A spans (``SendMessage``, ``GetTask``, … CLIENT or SERVER) → session models.

On both sides, what the call carried (``semconv.A2A_EXCHANGE``) becomes
events of the span's session, each recorded once whichever span carries it
again (ids derive from the session's view of the thing, not the span):

* a message: ``a2a_message``, by A2A message id, so the two sides' records
  of one message share that id (``metadata["a2a"]["message_id"]``);
* a task state: ``a2a_task_status``, once per task and state;
* an artifact: ``a2a_artifact``, once per task, artifact and content.

A SERVER span also records the A2A task as a run of the agent's session:
its id is the task id, its status follows the task's latest state, and
``metadata["reference_task_ids"]`` links a follow-up task to the tasks it
names. A failed CLIENT call (remote unreachable, stream cut) records an
``a2a_error`` event in the caller's session. A CLIENT call that learnt the
``contextId`` links the agent's session (``a2a-{contextId}``) as a child of
the caller's, on the caller's side, as ``ActiveSession.add_child`` would: the
caller chose whom it called; the agent never writes into the caller's session.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.trace import SpanKind, StatusCode

from a2a_session_manager.exporters._conversation import derived_id
from a2a_session_manager.exporters._session_state import ORIGIN, ORIGIN_A2A
from a2a_session_manager.exporters._trusted import trusted_run
from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_run import RunStatus
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._a2a_sessions import a2a_session_id
from a2a_session_manager.telemetry._deferred_content import deferred_content
from a2a_session_manager.telemetry._guard import log_internal_error
from a2a_session_manager.telemetry._json import from_json_text

if TYPE_CHECKING:
    from a2a_session_manager.exporters._mapping import SpanMapper, _Span

EVENT_MESSAGE: Final = "a2a_message"
EVENT_TASK_STATUS: Final = "a2a_task_status"
EVENT_ARTIFACT: Final = "a2a_artifact"
EVENT_ERROR: Final = "a2a_error"

_RUN_STATUS: Final = {
    "TASK_STATE_SUBMITTED": RunStatus.PENDING,
    "TASK_STATE_WORKING": RunStatus.RUNNING,
    "TASK_STATE_INPUT_REQUIRED": RunStatus.RUNNING,
    "TASK_STATE_AUTH_REQUIRED": RunStatus.RUNNING,
    "TASK_STATE_COMPLETED": RunStatus.COMPLETED,
    "TASK_STATE_FAILED": RunStatus.FAILED,
    "TASK_STATE_REJECTED": RunStatus.FAILED,
    "TASK_STATE_CANCELED": RunStatus.CANCELLED,
}
_SOURCES: Final = {"user": EventSource.USER, "agent": EventSource.LLM}
_NOT_METADATA: Final = frozenset({"parts", "time_unix_nano"})


def _time(ns: int | None) -> datetime:
    return datetime.fromtimestamp((ns or 0) / 1e9, tz=UTC)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _exchange(span: Any, attrs: Mapping[str, Any]) -> Any:
    """The records: the attribute (JSON text) when the span carries content,
    else what the instrumentation left to build now (plain JSON values)."""
    if semconv.A2A_EXCHANGE in attrs:
        return attrs[semconv.A2A_EXCHANGE]
    producer = deferred_content(span)
    if producer is None:
        return None
    try:
        return producer().get(semconv.A2A_EXCHANGE)
    except Exception:
        log_internal_error("building an A2A span's records")
        return None


def map_a2a_span(mapper: SpanMapper, ctx: _Span, attrs: Mapping[str, Any]) -> None:
    span = ctx.span
    server = span.kind is SpanKind.SERVER
    method = str(attrs.get(semconv.A2A_PROTOCOL_METHOD_NAME))
    task_id = _str(attrs.get(semconv.A2A_PROTOCOL_TASK_ID))
    run_id = task_id if server and task_id else ctx.run_id
    side = {"side": "server" if server else "client", "method": method}
    records = from_json_text(_exchange(span, attrs))
    ended = _time(span.end_time)
    session = ctx.changes.session_id
    for record in records if isinstance(records, list) else ():
        if isinstance(record, dict):
            event = _event(mapper, session, record, side, run_id, ended)
            if event is not None:
                ctx.changes.events.append(event)
    if span.status.status_code is StatusCode.ERROR and not server:
        ctx.changes.events.append(_error(ctx, attrs, side, ended))
    if server and task_id:
        ctx.changes.runs.append(_task_run(span, attrs, task_id))
    context_id = _str(attrs.get(semconv.GEN_AI_CONVERSATION_ID))
    if not server and context_id:
        child = a2a_session_id(context_id)
        if child != session and child not in ctx.changes.child_ids:
            ctx.changes.child_ids.append(child)


def _event(
    mapper: SpanMapper,
    session: str,
    record: dict[str, Any],
    side: dict[str, str],
    run_id: str | None,
    timestamp: datetime,
) -> SessionEvent | None:
    kind = record.get("kind")
    seen = record.get("time_unix_nano")
    if isinstance(seen, int) and not isinstance(seen, bool):
        timestamp = _time(seen)
    metadata: dict[str, Any] = {
        "a2a": {**{k: v for k, v in record.items() if k not in _NOT_METADATA}, **side}
    }
    content = record.get("parts") if mapper.capture_content else None
    if kind == "message":
        message_id = str(record.get("message_id"))
        source = _SOURCES.get(str(record.get("role")), EventSource.SYSTEM)
        event_id = derived_id(session, "a2a-message", message_id)
        if source is EventSource.LLM:  # another agent's answer, not a provider call
            metadata[ORIGIN] = ORIGIN_A2A
        return SessionEvent(
            id=event_id,
            message=mapper._stored(source, {"role": record.get("role"), "parts": content}),
            source=source,
            type=EVENT_MESSAGE,
            task_id=run_id,
            timestamp=timestamp,
            metadata=metadata,
        )
    if kind == "status":
        state = str(record.get("state"))
        return SessionEvent(
            id=derived_id(session, "a2a-status", str(record.get("task_id")), state),
            message={"task_id": record.get("task_id"), "state": state},
            source=EventSource.SYSTEM,
            type=EVENT_TASK_STATUS,
            task_id=run_id,
            timestamp=timestamp,
            metadata=metadata,
        )
    if kind == "artifact":
        key = str(record.get("artifact_id")), repr(record.get("parts"))
        return SessionEvent(
            id=derived_id(session, "a2a-artifact", str(record.get("task_id")), *key),
            message=mapper._stored(
                EventSource.SYSTEM, {"name": record.get("name"), "parts": content}
            ),
            source=EventSource.SYSTEM,
            type=EVENT_ARTIFACT,
            task_id=run_id,
            timestamp=timestamp,
            metadata=metadata,
        )
    return None


def _error(
    ctx: _Span, attrs: Mapping[str, Any], side: dict[str, str], timestamp: datetime
) -> SessionEvent:
    return SessionEvent(
        id=derived_id(ctx.seed, "a2a-error"),
        message={
            "method": side["method"],
            "error_type": attrs.get(semconv.ERROR_TYPE),
            "error": attrs.get(semconv.A2A_ERROR_MESSAGE) or ctx.span.status.description,
        },
        source=EventSource.SYSTEM,
        type=EVENT_ERROR,
        task_id=ctx.run_id,
        timestamp=timestamp,
        metadata={"a2a": dict(side)},
    )


def _task_run(span: Any, attrs: Mapping[str, Any], task_id: str) -> Any:
    state = _str(attrs.get(semconv.A2A_PROTOCOL_TASK_STATE))
    status = _RUN_STATUS.get(state or "", RunStatus.RUNNING)
    error = None
    if span.status.status_code is StatusCode.ERROR:
        status = RunStatus.FAILED
        error = attrs.get(semconv.A2A_ERROR_MESSAGE) or span.status.description or state
    finished = status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
    references = attrs.get(semconv.A2A_PROTOCOL_REFERENCE_TASK_IDS)
    name = _str(attrs.get(semconv.GEN_AI_AGENT_NAME))
    return trusted_run(
        {
            "id": task_id,
            "name": name or "a2a task",
            "status": status,
            "started_at": _time(span.start_time),
            "ended_at": _time(span.end_time) if finished else None,
            "parent_run_id": None,
            "error": str(error) if error is not None else None,
            "metadata": {
                "a2a": {
                    "task_id": task_id,
                    "context_id": attrs.get(semconv.GEN_AI_CONVERSATION_ID),
                    "state": state,
                    "reference_task_ids": list(references or ()),
                }
            },
        }
    )
