"""The single span → session model mapping (DESIGN §4).

``SpanMapper.map`` turns a batch of ended spans, in the order they ended,
into one :class:`SessionChanges` per session. It keeps a little state per
session (bounded, least recently used sessions forgotten first) so that
each thing that happened is recorded once: input messages repeated by every
later request, and tool results seen both as a ``tool`` span and in the next
request's ``tool`` message.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import uuid4

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from pydantic import BaseModel

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.session_run import RunStatus, SessionRun
from a2a_session_manager.models.token_usage import TokenUsage
from a2a_session_manager.storage.changes import SessionChanges, merge_metadata
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._deferred_content import deferred_content
from a2a_session_manager.telemetry._guard import log_internal_error
from a2a_session_manager.telemetry._json import from_json_text

logger = logging.getLogger(__name__)

Redactor = Callable[[dict[str, Any]], dict[str, Any]]

_MAX_REMEMBERED = 512  # per session: message fingerprints, tool call ids


class _Bounded(OrderedDict[Any, Any]):
    """An ordered dict that forgets its oldest entries beyond ``limit``."""

    def __init__(self, limit: int = _MAX_REMEMBERED) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: Any, value: Any = None) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


@dataclass
class _PendingCall:
    llm_event_id: str
    name: str
    arguments: Any
    arguments_key: str


@dataclass
class _SessionState:
    seen_inputs: _Bounded = field(default_factory=_Bounded)
    recorded_calls: _Bounded = field(default_factory=_Bounded)
    pending_calls: _Bounded = field(default_factory=_Bounded)  # call id -> _PendingCall
    # Texts the application recorded as USER events since the last LLM reply:
    # the next request carries them again and they are not recorded twice.
    user_texts: list[str] = field(default_factory=list)


def _time(ns: int | None) -> datetime:
    if ns is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(ns / 1e9, UTC)


def _timing(span: ReadableSpan) -> dict[str, Any]:
    """When the call behind an event started and how long it took (the event's
    timestamp is when it ended), for timelines and waterfalls."""
    start, end = span.start_time, span.end_time
    if start is None or end is None:
        return {}
    return {"started_at": _time(start).isoformat(), "duration_ms": round((end - start) / 1e6, 3)}


_RUN_FIELDS = tuple(SessionRun.model_fields)
_USAGE_FIELDS = tuple(TokenUsage.model_fields)
_EVENT_FIELDS = tuple(SessionEvent.model_fields)
# What validation marks as set when the mapper builds these with keywords.
_USAGE_SET = frozenset(_USAGE_FIELDS) - {"total_tokens", "estimated_cost_usd"}
_EVENT_SET = frozenset(_EVENT_FIELDS) - {"id"}
_set_attribute = object.__setattr__
_Model = TypeVar("_Model", bound=BaseModel)


def _trusted(model: type[_Model], values: dict[str, Any], fields_set: Iterable[str]) -> _Model:
    """An instance of ``model`` holding ``values`` (every field, in field
    order, already valid) without running validation."""
    instance = model.__new__(model)
    _set_attribute(instance, "__dict__", values)
    _set_attribute(instance, "__pydantic_fields_set__", set(fields_set))
    _set_attribute(instance, "__pydantic_extra__", None)
    _set_attribute(instance, "__pydantic_private__", None)
    return instance


def trusted_run(values: dict[str, Any]) -> SessionRun:
    """``SessionRun.model_construct(**values)`` for values that name every field
    in field order, without its per-field alias and default handling: every
    outermost run builds one of these on the caller's thread."""
    if tuple(values) != _RUN_FIELDS:  # a field added to the model: take the slow road
        return SessionRun.model_construct(**values)
    return _trusted(SessionRun, values, _RUN_FIELDS)


def trusted_usage(
    *,
    prompt_tokens: int,
    completion_tokens: int,
    cached_input_tokens: int,
    reasoning_tokens: int,
    model: str,
    source: str,
) -> TokenUsage:
    """``TokenUsage(...)`` for counts the mapper made non-negative ints, with
    the total and the cost derived as its validator derives them."""
    values: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cached_input_tokens": cached_input_tokens,
        "reasoning_tokens": reasoning_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "model": model,
        "estimated_cost_usd": None,
        "source": source,
    }
    if tuple(values) != _USAGE_FIELDS:  # the model changed: validate
        del values["total_tokens"], values["estimated_cost_usd"]
        return TokenUsage(**values)
    usage = _trusted(TokenUsage, values, _USAGE_SET)
    if model:
        values["estimated_cost_usd"] = usage.calculate_cost()
    return usage


def trusted_event(
    *,
    message: Any,
    source: EventSource,
    type: EventType,
    task_id: str | None,
    timestamp: datetime,
    metadata: dict[str, Any],
    token_usage: TokenUsage | None = None,
) -> SessionEvent:
    """``SessionEvent(...)`` for values the mapper built valid (an aware UTC
    ``timestamp``, enum members, a fresh ``metadata`` dict of JSON values)."""
    values: dict[str, Any] = {
        "id": uuid4().hex,
        "timestamp": timestamp,
        "message": message,
        "task_id": task_id,
        "type": type,
        "source": source,
        "metadata": metadata,
        "token_usage": token_usage,
    }
    if tuple(values) != _EVENT_FIELDS:  # the model changed: validate
        del values["id"]
        return SessionEvent(**values)
    return _trusted(SessionEvent, values, _EVENT_SET)


def span_attributes(span: ReadableSpan) -> Mapping[str, Any]:
    """The span's attributes as the plain dict the SDK keeps them in.

    ``span.attributes`` is a read-only proxy of a ``BoundedAttributes``, whose
    lookups go through the ``Mapping`` ABC; the dict inside answers the same
    lookups several times faster. Other span types get the public view.
    """
    plain = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(plain) is dict:
        return plain
    return span.attributes or {}


_MESSAGE_ATTRIBUTES = (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES)


def chat_content(span: ReadableSpan, attrs: Mapping[str, Any]) -> Mapping[str, Any]:
    """Where a chat span's messages are: its attributes (JSON text, the
    reference form), or, when content stayed off the span, what the
    instrumentation left to build now (``telemetry._deferred_content``: the same
    messages as plain values)."""
    if all(key in attrs for key in _MESSAGE_ATTRIBUTES):
        return attrs
    producer = deferred_content(span)
    if producer is None:
        return attrs
    try:
        content = producer()
    except Exception:
        log_internal_error("building a chat span's messages")
        return attrs
    return {**content, **{k: attrs[k] for k in _MESSAGE_ATTRIBUTES if k in attrs}}


def _span_id(span: ReadableSpan) -> str:
    return format(span.context.span_id, "016x") if span.context is not None else ""


def _session_of(span: ReadableSpan, attrs: Mapping[str, Any]) -> str:
    session_id = attrs.get(semconv.SESSION_ID)
    if isinstance(session_id, str) and session_id:
        return session_id
    # No session in context: the trace id names one, so nothing is dropped.
    return format(span.context.trace_id, "032x") if span.context is not None else "unknown"


def _canonical(value: Any) -> str:
    if isinstance(value, str):
        parsed = from_json_text(value)
        if not isinstance(parsed, str):
            value = parsed
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _fingerprint(message: Any) -> str:
    return hashlib.blake2b(
        _canonical(message).encode("utf-8", "backslashreplace"), digest_size=12
    ).hexdigest()


def _messages(value: Any) -> list[dict[str, Any]]:
    parsed = from_json_text(value)
    if not isinstance(parsed, list):
        return []
    return [m for m in parsed if isinstance(m, dict)]


def _parts(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    parts = message.get("parts")
    if isinstance(parts, list):
        return [p for p in parts if isinstance(p, dict)]
    content = message.get("content")  # tolerate plain {"role", "content"} messages
    if isinstance(content, str):
        return [{"type": semconv.PART_TEXT, "content": content}]
    return []


def _text(parts: list[dict[str, Any]]) -> str | None:
    texts = [p.get("content") for p in parts if p.get("type") == semconv.PART_TEXT]
    strings = [t if isinstance(t, str) else json.dumps(t, default=repr) for t in texts]
    return "".join(strings) if strings else None


def _int(attrs: Mapping[str, Any], key: str) -> int | None:
    value = attrs.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(value, 0)


class SpanMapper:
    """Spans → ``SessionChanges``; call ``map`` from one thread at a time."""

    def __init__(
        self,
        *,
        capture_content: bool = True,
        redact: Redactor | None = None,
        max_sessions: int = 10_000,
    ) -> None:
        self.capture_content = capture_content
        self.redact = redact
        self._states: OrderedDict[str, _SessionState] = OrderedDict()
        self._max_sessions = max_sessions

    # -- entry point --------------------------------------------------------
    def map(self, spans: Iterable[ReadableSpan]) -> dict[str, SessionChanges]:
        out: dict[str, SessionChanges] = {}
        for span in spans:
            try:
                self._map_span(span, out)
            except Exception:
                log_internal_error("mapping a span to session models")
        return out

    def _state(self, session_id: str) -> _SessionState:
        state = self._states.get(session_id)
        if state is None:
            state = self._states[session_id] = _SessionState()
            if len(self._states) > self._max_sessions:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(session_id)
        return state

    def _map_span(self, span: ReadableSpan, out: dict[str, SessionChanges]) -> None:
        attrs = span_attributes(span)
        session_id = _session_of(span, attrs)
        changes = out.get(session_id)
        if changes is None:
            changes = out[session_id] = SessionChanges(session_id=session_id)
        operation = attrs.get(semconv.GEN_AI_OPERATION_NAME)
        if operation == semconv.OPERATION_INVOKE_AGENT:
            changes.runs.append(self._run(span, attrs))
        elif operation == semconv.OPERATION_CHAT:
            self._chat(span, attrs, session_id, changes)
        elif operation == semconv.OPERATION_EXECUTE_TOOL:
            self._tool(span, attrs, session_id, changes)
        elif operation == semconv.OPERATION_SESSION:
            self._session(span, attrs, changes)
        if getattr(span, "_events", True):  # the SDK's list; ``events`` copies it
            self._span_events(span, attrs, session_id, changes)

    # -- runs and sessions --------------------------------------------------
    def _run(self, span: ReadableSpan, attrs: Mapping[str, Any]) -> SessionRun:
        error = None
        if attrs.get(semconv.A2A_RUN_CANCELLED):
            status = RunStatus.CANCELLED
        elif span.status.status_code is StatusCode.ERROR:
            status = RunStatus.FAILED
            error = attrs.get(semconv.A2A_ERROR_MESSAGE) or span.status.description
        else:
            status = RunStatus.COMPLETED
        parent_run_id = attrs.get(semconv.A2A_RUN_PARENT_ID)
        name = attrs.get(semconv.GEN_AI_AGENT_NAME)
        return trusted_run(
            {
                "id": _span_id(span),
                "name": name if isinstance(name, str) else span.name,
                "status": status,
                "started_at": _time(span.start_time),
                "ended_at": _time(span.end_time),
                "parent_run_id": parent_run_id if isinstance(parent_run_id, str) else None,
                "error": str(error) if error is not None else None,
                "metadata": {},
            }
        )

    def _session(
        self, span: ReadableSpan, attrs: Mapping[str, Any], changes: SessionChanges
    ) -> None:
        properties = from_json_text(attrs.get(semconv.A2A_SESSION_PROPERTIES))
        metadata = SessionMetadata(
            created_at=_time(span.start_time),
            updated_at=_time(span.end_time),
            properties=properties if isinstance(properties, dict) else {},
        )
        changes.metadata = (
            metadata if changes.metadata is None else merge_metadata(changes.metadata, metadata)
        )
        parent_id = attrs.get(semconv.A2A_SESSION_PARENT_ID)
        if isinstance(parent_id, str) and parent_id:
            changes.parent_id = parent_id

    # -- events -------------------------------------------------------------
    def _content(self, source: EventSource, message: Any) -> Any:
        """The message as stored: redacted by the application's hook."""
        if self.redact is None:
            return message
        try:
            redacted = self.redact({"role": source.value, "content": message})
            return redacted.get("content") if isinstance(redacted, dict) else None
        except Exception:
            logger.exception("redaction hook failed; the message is stored without content")
            return None

    def _span_events(
        self,
        span: ReadableSpan,
        attrs: Mapping[str, Any],
        session_id: str,
        changes: SessionChanges,
    ) -> None:
        run_id = attrs.get(semconv.A2A_RUN_ID)
        for span_event in span.events:
            if span_event.name != semconv.A2A_EVENT:
                continue
            ev = span_event.attributes or {}
            try:
                source = EventSource(str(ev.get(semconv.A2A_EVENT_SOURCE, "system")))
            except ValueError:
                source = EventSource.SYSTEM
            message = self._content(source, from_json_text(ev.get(semconv.A2A_EVENT_MESSAGE)))
            metadata = from_json_text(ev.get(semconv.A2A_EVENT_METADATA))
            event_id = ev.get(semconv.A2A_EVENT_ID)
            event_type = ev.get(semconv.A2A_EVENT_TYPE)
            event = SessionEvent(
                message=message,
                source=source,
                type=event_type if isinstance(event_type, str) and event_type else "message",
                task_id=run_id if isinstance(run_id, str) else None,
                timestamp=_time(span_event.timestamp),
                metadata=metadata if isinstance(metadata, dict) else {},
            )
            if isinstance(event_id, str) and event_id:
                event.id = event_id
            changes.events.append(event)
            if source is EventSource.USER and isinstance(message, str):
                self._state(session_id).user_texts.append(message)

    def _redact_structured(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.redact is None:
            return messages
        out = []
        for message in messages:
            try:
                redacted = self.redact(message)
            except Exception:
                logger.exception("redaction hook failed; the message is dropped")
                continue
            if isinstance(redacted, dict):
                out.append(redacted)
        return out

    def _chat(
        self,
        span: ReadableSpan,
        attrs: Mapping[str, Any],
        session_id: str,
        changes: SessionChanges,
    ) -> None:
        state = self._state(session_id)
        run_id = attrs.get(semconv.A2A_RUN_ID)
        task_id = run_id if isinstance(run_id, str) else None
        span_id = _span_id(span)
        messages = chat_content(span, attrs)
        inputs = self._redact_structured(_messages(messages.get(semconv.GEN_AI_INPUT_MESSAGES)))
        outputs = self._redact_structured(_messages(messages.get(semconv.GEN_AI_OUTPUT_MESSAGES)))

        last_assistant = -1
        requested: dict[str, tuple[str, Any]] = {}  # call id -> (name, arguments) in the request
        for index, message in enumerate(inputs):
            if message.get("role") == "assistant":
                last_assistant = index
                for part in _parts(message):
                    if part.get("type") == semconv.PART_TOOL_CALL and isinstance(
                        part.get("id"), str
                    ):
                        requested[part["id"]] = (str(part.get("name", "")), part.get("arguments"))
        anchor = _fingerprint(inputs[last_assistant]) if last_assistant >= 0 else ""
        started = _time(span.start_time)
        for offset, message in enumerate(inputs[last_assistant + 1 :]):
            role = message.get("role")
            if role == "user":
                key = (anchor, offset, _fingerprint(message))
                if key in state.seen_inputs:
                    continue
                state.seen_inputs.remember(key)
                parts = _parts(message)
                text = _text(parts)
                content: Any = text if text is not None and len(parts) == 1 else parts
                if isinstance(content, str) and content in state.user_texts:
                    state.user_texts.remove(content)  # already recorded by record_event
                    continue
                changes.events.append(
                    trusted_event(
                        message=content if self.capture_content else None,
                        source=EventSource.USER,
                        type=EventType.MESSAGE,
                        task_id=task_id,
                        timestamp=started,
                        metadata={"span_id": span_id},
                    )
                )
            elif role == "tool":
                for part in _parts(message):
                    if part.get("type") != semconv.PART_TOOL_CALL_RESPONSE:
                        continue
                    call_id = part.get("id")
                    if not isinstance(call_id, str) or call_id in state.recorded_calls:
                        continue
                    pending = state.pending_calls.pop(call_id, None)
                    name, arguments = requested.get(call_id, ("", None))
                    if pending is not None:
                        name, arguments = pending.name, pending.arguments
                    self._tool_event(
                        state,
                        changes,
                        name=name,
                        call_id=call_id,
                        arguments=arguments,
                        result=part.get("response"),
                        error=None,
                        parent_event_id=pending.llm_event_id if pending else None,
                        task_id=task_id,
                        timestamp=started,
                        span_id=span_id,
                    )

        if not outputs:
            return
        output = outputs[0]
        parts = _parts(output)
        text = _text(parts)
        tool_calls = [
            {"id": p.get("id"), "name": p.get("name"), "arguments": p.get("arguments")}
            for p in parts
            if p.get("type") == semconv.PART_TOOL_CALL
        ]
        llm_message: Any = {"content": text, "tool_calls": tool_calls} if tool_calls else text
        model = attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL)
        metadata: dict[str, Any] = {"span_id": span_id, **_timing(span)}
        for field_name, attribute in (
            ("model", semconv.GEN_AI_RESPONSE_MODEL),
            ("request_model", semconv.GEN_AI_REQUEST_MODEL),
            ("response_id", semconv.GEN_AI_RESPONSE_ID),
            ("provider", semconv.GEN_AI_PROVIDER_NAME),
        ):
            if attrs.get(attribute) is not None:
                metadata[field_name] = attrs[attribute]
        finish_reasons = attrs.get(semconv.GEN_AI_RESPONSE_FINISH_REASONS)
        if finish_reasons:
            metadata["finish_reasons"] = list(finish_reasons)
        event = trusted_event(
            message=llm_message if self.capture_content else None,
            source=EventSource.LLM,
            type=EventType.MESSAGE,
            task_id=task_id,
            timestamp=_time(span.end_time),
            metadata=metadata,
            token_usage=self._usage(attrs, str(model or "")),
        )
        changes.events.append(event)
        state.user_texts.clear()
        for call in tool_calls:
            call_id = call["id"]
            if isinstance(call_id, str):
                state.pending_calls.remember(
                    call_id,
                    _PendingCall(
                        event.id,
                        str(call["name"]),
                        call["arguments"],
                        _canonical(call["arguments"]),
                    ),
                )

    @staticmethod
    def _usage(attrs: Mapping[str, Any], model: str) -> TokenUsage | None:
        input_tokens = _int(attrs, semconv.GEN_AI_USAGE_INPUT_TOKENS)
        output_tokens = _int(attrs, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
        if input_tokens is None and output_tokens is None:
            return None
        source = attrs.get(semconv.A2A_USAGE_SOURCE)
        return trusted_usage(
            prompt_tokens=input_tokens or 0,
            completion_tokens=output_tokens or 0,
            cached_input_tokens=_int(attrs, semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) or 0,
            reasoning_tokens=_int(attrs, semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS) or 0,
            model=model,
            source="counted" if source == "counted" else "provider",
        )

    def _tool(
        self,
        span: ReadableSpan,
        attrs: Mapping[str, Any],
        session_id: str,
        changes: SessionChanges,
    ) -> None:
        state = self._state(session_id)
        name = str(attrs.get(semconv.GEN_AI_TOOL_NAME, span.name))
        arguments = from_json_text(attrs.get(semconv.GEN_AI_TOOL_CALL_ARGUMENTS))
        result = from_json_text(attrs.get(semconv.GEN_AI_TOOL_CALL_RESULT))
        call_id = attrs.get(semconv.GEN_AI_TOOL_CALL_ID)
        pending: _PendingCall | None = None
        if isinstance(call_id, str) and call_id:
            if call_id in state.recorded_calls:
                return
            pending = state.pending_calls.pop(call_id, None)
        else:
            call_id, pending = self._match_pending(state, name, arguments)
        error = None
        if span.status.status_code is StatusCode.ERROR:
            error = attrs.get(semconv.A2A_ERROR_MESSAGE) or span.status.description
        elif attrs.get(semconv.A2A_RUN_CANCELLED):
            error = "cancelled"
        run_id = attrs.get(semconv.A2A_RUN_ID)
        parent_event_id = attrs.get(semconv.A2A_TOOL_PARENT_EVENT_ID)
        if not isinstance(parent_event_id, str) or not parent_event_id:
            parent_event_id = pending.llm_event_id if pending else None
        self._tool_event(
            state,
            changes,
            name=name,
            call_id=call_id,
            arguments=arguments,
            result=result,
            error=error,
            parent_event_id=parent_event_id,
            task_id=run_id if isinstance(run_id, str) else None,
            timestamp=_time(span.end_time),
            span_id=_span_id(span),
            timing=_timing(span),
        )

    @staticmethod
    def _match_pending(
        state: _SessionState, name: str, arguments: Any
    ) -> tuple[str | None, _PendingCall | None]:
        """The pending call a tool run without call id answers: same name and
        arguments, latest LLM reply first; else the latest with the same name."""
        arguments_key: str | None = None  # made only when a call of this name waits
        same_name: tuple[str, _PendingCall] | None = None
        for call_id, pending in reversed(state.pending_calls.items()):
            if pending.name != name:
                continue
            if arguments_key is None:
                arguments_key = _canonical(arguments)
            if pending.arguments_key == arguments_key:
                del state.pending_calls[call_id]
                return call_id, pending
            if same_name is None:
                same_name = (call_id, pending)
        if same_name is not None:
            del state.pending_calls[same_name[0]]
            return same_name
        return None, None

    def _tool_event(
        self,
        state: _SessionState,
        changes: SessionChanges,
        *,
        name: str,
        call_id: str | None,
        arguments: Any,
        result: Any,
        error: Any,
        parent_event_id: str | None,
        task_id: str | None,
        timestamp: datetime,
        span_id: str,
        timing: dict[str, Any] | None = None,
    ) -> None:
        message: Any = {
            "tool_name": name,
            "call_id": call_id,
            "arguments": arguments if self.capture_content else None,
            "result": result if self.capture_content else None,
            "error": error,
        }
        message = self._content(EventSource.TOOL, message)
        metadata: dict[str, Any] = {"span_id": span_id, **(timing or {})}
        if parent_event_id is not None:
            metadata["parent_event_id"] = parent_event_id
        changes.events.append(
            trusted_event(
                message=message,
                source=EventSource.TOOL,
                type=EventType.TOOL_CALL,
                task_id=task_id,
                timestamp=timestamp,
                metadata=metadata,
            )
        )
        if call_id is not None:
            state.recorded_calls.remember(call_id)
