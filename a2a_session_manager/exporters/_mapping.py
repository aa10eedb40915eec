"""The single span → session model mapping (DESIGN §4).

``SpanMapper.map`` turns a batch of ended spans, in the order they ended,
into one :class:`SessionChanges` per session. Each thing that happened is
recorded once, and whether it is recorded follows from the request itself:

* a chat request continues an earlier call of the session when its messages
  begin with that call's input and output (``_conversation``); then only the
  rest is new, otherwise its whole input is new. Identical texts sent twice
  are two messages;
* a call that did not finish (failed, stream cut or abandoned) has no output
  to continue, but its input is recorded: the next request that begins with
  that input is its retry, and records only what comes after (its LLM event
  names the attempt in ``retry_of``). Both attempts stay LLM events;
* instructions, request parameters and tool definitions are recorded when
  they differ from those of the continued call (or start a conversation);
* a tool result is one TOOL_CALL event whose id derives from the LLM event
  that asked for it and the call id, whether it is seen as a tool span, in
  the next request's tool message, or both;
* every event id derives from its span (and position), so a batch written
  twice is stored once.

What is needed to recognise a continuation is stored on the LLM events, so
a process that never saw the earlier call reads it back from the store
(``history``); the per-session state in ``_session_state`` only saves reads.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from a2a_session_manager.exporters._a2a_mapping import map_a2a_span
from a2a_session_manager.exporters._conversation import (
    INSTRUCTION_ROLES,
    derived_id,
    digest_of,
    extend_digest,
    merged_turns,
    parts,
    prefix_digests,
    text_digest,
    text_of,
)
from a2a_session_manager.exporters._foreign_chat import chat_view
from a2a_session_manager.exporters._session_state import (
    CONTEXT_DIGEST,
    CONVERSATION_DIGEST,
    INPUT_DIGEST,
    ORIGIN,
    ORIGIN_REQUEST,
    CallRef,
    SessionState,
    arguments_key,
    state_from_events,
)
from a2a_session_manager.exporters._trusted import trusted_event, trusted_run, trusted_usage
from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.hierarchy import ParentLink
from a2a_session_manager.models.payloads import RETRY_OF
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.session_run import RunStatus, SessionRun
from a2a_session_manager.models.token_usage import TokenUsage
from a2a_session_manager.storage.changes import SessionChanges, merge_metadata
from a2a_session_manager.storage.positions import EventPosition, NewEvents
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._deferred_content import deferred_content
from a2a_session_manager.telemetry._guard import log_internal_error
from a2a_session_manager.telemetry._json import from_json_text

logger = logging.getLogger(__name__)

Redactor = Callable[[dict[str, Any]], dict[str, Any]]
# Reads the events a session stored after a position (``storage.positions``);
# called by the mapper at most once per session and batch, when a request may
# continue a call this process has not seen.
History = Callable[[str, EventPosition], NewEvents]

_ERROR_MESSAGE_LIMIT = 2_000
TRACE_SESSION_PREFIX = "trace-"
# Request attributes that are not parameters the model was given.
_NOT_PARAMETERS = frozenset({semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_REQUEST_STREAM})
_REQUEST_PREFIX = "gen_ai.request."


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


_CONTENT_ATTRIBUTES = (
    semconv.GEN_AI_INPUT_MESSAGES,
    semconv.GEN_AI_OUTPUT_MESSAGES,
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
    semconv.GEN_AI_TOOL_DEFINITIONS,
)


def chat_content(span: ReadableSpan, attrs: Mapping[str, Any]) -> Mapping[str, Any]:
    """Where a chat span's content is: its attributes (JSON text, the
    reference form), or, when content stayed off the span, what the
    instrumentation left to build now (``telemetry._deferred_content``: the
    same values as plain JSON values)."""
    if semconv.GEN_AI_INPUT_MESSAGES in attrs and semconv.GEN_AI_OUTPUT_MESSAGES in attrs:
        return attrs
    producer = deferred_content(span)
    if producer is None:
        return attrs
    try:
        content = producer()
    except Exception:
        log_internal_error("building a chat span's messages")
        return attrs
    return {**content, **{k: attrs[k] for k in _CONTENT_ATTRIBUTES if k in attrs}}


def _trace_span(span: ReadableSpan) -> tuple[str, str]:
    ctx = span.context
    if ctx is None:
        return "0" * 32, "0" * 16
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def _session_of(attrs: Mapping[str, Any], trace_id: str) -> str:
    session_id = attrs.get(semconv.SESSION_ID)
    if isinstance(session_id, str) and session_id:
        return session_id
    # No session in context: the trace id names one, so nothing is dropped.
    # Prefixed: a caller picks the trace id (traceparent), and a bare 32-hex
    # id could name a session ``asm.session()`` created with a uuid4 id.
    return TRACE_SESSION_PREFIX + trace_id


def _parent(attrs: Mapping[str, Any], changes: SessionChanges) -> None:
    """The parent link a span declares; a remote caller's claim stays a claim."""
    parent_id = attrs.get(semconv.A2A_SESSION_PARENT_ID)
    if isinstance(parent_id, str) and parent_id:
        changes.parent_id = parent_id
        changes.parent_link = ParentLink.parse(attrs.get(semconv.A2A_SESSION_PARENT_LINK))


def _messages(value: Any) -> list[dict[str, Any]]:
    parsed = from_json_text(value)
    if not isinstance(parsed, list):
        return []
    return [m for m in parsed if isinstance(m, dict)]


def _int(attrs: Mapping[str, Any], key: str) -> int | None:
    value = attrs.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(value, 0)


def _tool_calls(output_parts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tool calls among an output message's parts, as LLM payloads hold them."""
    return [
        {"id": p.get("id"), "name": p.get("name"), "arguments": p.get("arguments")}
        for p in output_parts
        if p.get("type") == semconv.PART_TOOL_CALL
    ]


def _reply(output_parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One further choice of a call: its text, and its tool calls when it has some."""
    reply: dict[str, Any] = {"content": text_of(output_parts)}
    calls = _tool_calls(output_parts)
    if calls:
        reply["tool_calls"] = calls
    return reply


def _plain(value: Any) -> Any:
    """An attribute value as a JSON value (OTel keeps sequences as tuples)."""
    return list(value) if isinstance(value, tuple) else value


class _Span:
    """What every event of one span shares: where it came from."""

    __slots__ = ("changes", "run_id", "seed", "span", "span_id", "state")

    def __init__(
        self,
        span: ReadableSpan,
        attrs: Mapping[str, Any],
        changes: SessionChanges,
        state: SessionState | None,
        trace_id: str,
        span_id: str,
    ) -> None:
        self.span = span
        self.changes = changes
        self.state = state
        self.span_id = span_id
        self.seed = trace_id + span_id
        run_id = attrs.get(semconv.A2A_RUN_ID)
        self.run_id = run_id if isinstance(run_id, str) else None


class _Continued(NamedTuple):
    """What a request continues: ``inputs[:start]`` are recorded already, by
    ``call`` (or, ``retried``, by the unfinished call this request retries)."""

    start: int
    call: CallRef | None
    retried: bool = False


class SpanMapper:
    """Spans → ``SessionChanges``; call ``map`` from one thread at a time."""

    def __init__(
        self,
        *,
        capture_content: bool = True,
        redact: Redactor | None = None,
        max_sessions: int = 10_000,
        history: History | None = None,
    ) -> None:
        self.capture_content = capture_content
        self.redact = redact
        self.history = history
        self._states: OrderedDict[str, SessionState] = OrderedDict()
        self._max_sessions = max_sessions
        self._batch = 0

    # -- entry point --------------------------------------------------------
    def map(self, spans: Iterable[ReadableSpan]) -> dict[str, SessionChanges]:
        self._batch += 1
        out: dict[str, SessionChanges] = {}
        for span in spans:
            try:
                self._map_span(span, out)
            except Exception:
                log_internal_error("mapping a span to session models")
        return out

    def forget(self) -> None:
        """Drop what is remembered of every session (a forked child's mapper)."""
        self._states.clear()

    def _state(self, session_id: str) -> SessionState:
        state = self._states.get(session_id)
        if state is None:
            state = self._states[session_id] = SessionState()
            if len(self._states) > self._max_sessions:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(session_id)
        return state

    def _map_span(self, span: ReadableSpan, out: dict[str, SessionChanges]) -> None:
        attrs = chat_view(span, span_attributes(span))  # other instrumentations' chat spans
        trace_id, span_id = _trace_span(span)
        session_id = _session_of(attrs, trace_id)
        changes = out.get(session_id)
        if changes is None:
            changes = out[session_id] = SessionChanges(session_id=session_id)
        operation = attrs.get(semconv.GEN_AI_OPERATION_NAME)
        state = (
            self._state(session_id)
            if operation in (semconv.OPERATION_CHAT, semconv.OPERATION_EXECUTE_TOOL) or span.events
            else None
        )
        ctx = _Span(span, attrs, changes, state, trace_id, span_id)
        if operation == semconv.OPERATION_INVOKE_AGENT:
            changes.runs.append(self._run(span, attrs, span_id))
        elif operation == semconv.OPERATION_CHAT:
            self._chat(ctx, attrs, session_id)
        elif operation == semconv.OPERATION_EXECUTE_TOOL:
            self._tool(ctx, attrs)
        elif operation == semconv.OPERATION_SESSION:
            self._session(span, attrs, changes)
        elif semconv.A2A_PROTOCOL_METHOD_NAME in attrs:
            map_a2a_span(self, ctx, attrs)
        if semconv.A2A_SESSION_PARENT_LINK in attrs and operation != semconv.OPERATION_SESSION:
            _parent(attrs, changes)  # a landing session: every span carries the caller's claim
        if getattr(span, "_events", True):  # the SDK's list; ``events`` copies it
            self._span_events(ctx)

    # -- runs and sessions --------------------------------------------------
    @staticmethod
    def _run(span: ReadableSpan, attrs: Mapping[str, Any], span_id: str) -> SessionRun:
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
                "id": span_id,
                "name": name if isinstance(name, str) else span.name,
                "status": status,
                "started_at": _time(span.start_time),
                "ended_at": _time(span.end_time),
                "parent_run_id": parent_run_id if isinstance(parent_run_id, str) else None,
                "error": str(error) if error is not None else None,
                "metadata": {"closed_early": True}
                if attrs.get(semconv.A2A_RUN_CLOSED_EARLY)
                else {},
            }
        )

    @staticmethod
    def _session(span: ReadableSpan, attrs: Mapping[str, Any], changes: SessionChanges) -> None:
        properties = from_json_text(attrs.get(semconv.A2A_SESSION_PROPERTIES))
        metadata = SessionMetadata(
            created_at=_time(span.start_time),
            updated_at=_time(span.end_time),
            properties=properties if isinstance(properties, dict) else {},
        )
        changes.metadata = (
            metadata if changes.metadata is None else merge_metadata(changes.metadata, metadata)
        )
        _parent(attrs, changes)
        child_ids = attrs.get(semconv.A2A_SESSION_CHILD_IDS)
        if isinstance(child_ids, Sequence) and not isinstance(child_ids, str):
            changes.child_ids.extend(c for c in child_ids if isinstance(c, str) and c)

    # -- events -------------------------------------------------------------
    def _stored(self, source: EventSource, payload: Any) -> Any:
        """The payload as stored: without content when capture is off, and as
        the application's redaction hook leaves it. The hook sees every
        payload in one shape: ``{"role": <source>, "content": <payload>}``."""
        if self.redact is None:
            return payload
        try:
            redacted = self.redact({"role": source.value, "content": payload})
            return redacted.get("content") if isinstance(redacted, dict) else None
        except Exception:
            logger.exception("redaction hook failed; the event is stored without content")
            return None

    def _emit(
        self,
        ctx: _Span,
        *,
        event_id: str,
        payload: Any,
        source: EventSource,
        type: EventType,
        timestamp: datetime,
        metadata: dict[str, Any],
        token_usage: TokenUsage | None = None,
    ) -> SessionEvent:
        event = trusted_event(
            id=event_id,
            message=self._stored(source, payload),
            source=source,
            type=type,
            task_id=ctx.run_id,
            timestamp=timestamp,
            metadata=metadata,
            token_usage=token_usage,
        )
        ctx.changes.events.append(event)
        return event

    def _span_events(self, ctx: _Span) -> None:
        for index, span_event in enumerate(ctx.span.events):
            if span_event.name != semconv.A2A_EVENT:
                continue
            ev = span_event.attributes or {}
            try:
                source = EventSource(str(ev.get(semconv.A2A_EVENT_SOURCE, "system")))
            except ValueError:
                source = EventSource.SYSTEM
            message = from_json_text(ev.get(semconv.A2A_EVENT_MESSAGE))
            metadata = from_json_text(ev.get(semconv.A2A_EVENT_METADATA))
            event_id = ev.get(semconv.A2A_EVENT_ID)
            event_type = ev.get(semconv.A2A_EVENT_TYPE)
            event = SessionEvent(
                id=event_id
                if isinstance(event_id, str) and event_id
                else derived_id(ctx.seed, "event", str(index)),
                message=self._stored(source, message),
                source=source,
                type=event_type if isinstance(event_type, str) and event_type else "message",
                task_id=ctx.run_id,
                timestamp=_time(span_event.timestamp),
                metadata=metadata if isinstance(metadata, dict) else {},
            )
            ctx.changes.events.append(event)
            if source is EventSource.USER and isinstance(message, str) and ctx.state:
                ctx.state.remember_user_text(ctx.run_id, text_digest(message))

    # -- chat ---------------------------------------------------------------
    def _continued(
        self,
        state: SessionState,
        session_id: str,
        inputs: Sequence[Mapping[str, Any]],
        digests: Sequence[str],
    ) -> _Continued:
        """How many of ``inputs`` the session already holds: an earlier call's
        input and output, or the input of an unfinished call this retries."""
        found = self._longest(state, inputs, digests)
        last_reply = next(
            (j for j in range(len(inputs), 0, -1) if inputs[j - 1].get("role") == "assistant"), 0
        )
        # A longer prefix than the one known here may be a call another
        # process (or this one, before it forgot) recorded: ask the store.
        if found.start < last_reply and self._load(state, session_id):
            found = self._longest(state, inputs, digests)
        return found

    @staticmethod
    def _longest(
        state: SessionState, inputs: Sequence[Mapping[str, Any]], digests: Sequence[str]
    ) -> _Continued:
        retries, calls = state.retries, state.calls
        for j in range(len(inputs), 0, -1):
            ref = retries.get(digests[j]) if retries else None
            if ref is not None:
                return _Continued(j, ref, retried=True)
            if inputs[j - 1].get("role") == "assistant":
                ref = calls.get(digests[j])
                if ref is not None:
                    return _Continued(j, ref)
        return _Continued(0, None)

    def _load(self, state: SessionState, session_id: str) -> bool:
        """Fold in the calls the store recorded since the last read, once per
        batch; ``True`` if there were any."""
        if self.history is None or state.loaded_batch == self._batch:
            return False
        state.loaded_batch = self._batch
        try:
            new = self.history(session_id, state.position)
        except Exception:
            logger.warning(
                "could not read session %.64r to recognise a continued conversation; "
                "its whole input is recorded",
                session_id,
                exc_info=True,
            )
            return False
        state.position = new.position
        if not new.events:
            return False
        state_from_events(state, new.events)
        return True

    @staticmethod
    def _instructions(
        inputs: Sequence[Mapping[str, Any]],
        content: Mapping[str, Any],
        attrs: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The ``Instructions`` payload of a request (models.payloads)."""
        system: list[dict[str, Any]] = []
        for part in _messages(content.get(semconv.GEN_AI_SYSTEM_INSTRUCTIONS)) or []:
            if part.get("type") == semconv.PART_TEXT:
                system.append({"role": "system", "content": part.get("content")})
        for message in inputs:
            role = message.get("role")
            if role in INSTRUCTION_ROLES:
                message_parts = parts(message)
                text = text_of(message_parts)
                system.append(
                    {"role": role, "content": text if text is not None else message_parts}
                )
        parameters = {
            key[len(_REQUEST_PREFIX) :]: _plain(value)
            for key, value in attrs.items()
            if key.startswith(_REQUEST_PREFIX) and key not in _NOT_PARAMETERS
        }
        output_type = attrs.get(semconv.GEN_AI_OUTPUT_TYPE)
        if output_type is not None:
            parameters["output.type"] = output_type
        tools = from_json_text(content.get(semconv.GEN_AI_TOOL_DEFINITIONS))
        return {
            "system": system,
            "parameters": parameters,
            "tools": [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else [],
        }

    def _chat(self, ctx: _Span, attrs: Mapping[str, Any], session_id: str) -> None:
        state = ctx.state
        assert state is not None
        span = ctx.span
        content = chat_content(span, attrs)
        messages = _messages(content.get(semconv.GEN_AI_INPUT_MESSAGES))
        # Instruction messages are recorded (and compared) as instructions, not
        # as the conversation: an agent that hands over with its own system
        # message, or a changed system prompt, still continues the conversation.
        inputs = merged_turns([m for m in messages if m.get("role") not in INSTRUCTION_ROLES])
        outputs = _messages(content.get(semconv.GEN_AI_OUTPUT_MESSAGES))
        digests = prefix_digests(inputs)
        found = self._continued(state, session_id, inputs, digests)
        continued = found.call
        retry_of = None
        if found.retried and continued is not None:
            retry_of = continued.event_id
            state.take_retry(digests[found.start])
        started = _time(span.start_time)
        capture = self.capture_content

        instructions = self._instructions(messages, content, attrs)
        context_digest = digest_of(instructions)
        has_instructions = any(instructions.values())
        if (continued is None and has_instructions) or (
            continued is not None and continued.context_digest != context_digest
        ):
            self._emit(
                ctx,
                event_id=derived_id(ctx.seed, "instructions"),
                payload=instructions if capture else None,
                source=EventSource.SYSTEM,
                type=EventType.INSTRUCTIONS,
                timestamp=started,
                metadata={"span_id": ctx.span_id},
            )

        for index in range(found.start, len(inputs)):
            self._input_message(ctx, inputs, digests, index, started)

        self._llm_event(ctx, attrs, outputs, digests, context_digest, retry_of)

    def _input_message(
        self,
        ctx: _Span,
        inputs: Sequence[Mapping[str, Any]],
        digests: Sequence[str],
        index: int,
        started: datetime,
    ) -> None:
        state = ctx.state
        assert state is not None
        message = inputs[index]
        role = message.get("role")
        if role in INSTRUCTION_ROLES:
            return  # recorded as instructions
        message_parts = parts(message)
        metadata: dict[str, Any] = {"span_id": ctx.span_id}
        if role == "tool":
            for part in message_parts:
                if part.get("type") == semconv.PART_TOOL_CALL_RESPONSE:
                    self._tool_result(ctx, inputs, digests, index, part, started)
            return
        text = text_of(message_parts)
        payload: Any = text if text is not None and len(message_parts) == 1 else message_parts
        if role == "user":
            if isinstance(payload, str) and state.take_user_text(ctx.run_id, text_digest(payload)):
                return  # the application recorded it with record_event
            source = EventSource.USER
        elif role == "assistant":
            # Not the output of a call this session recorded: a conversation
            # from elsewhere or examples in the prompt. Kept as sent, no usage.
            source = EventSource.LLM
            metadata[ORIGIN] = ORIGIN_REQUEST
            calls = [
                {"id": p.get("id"), "name": p.get("name"), "arguments": p.get("arguments")}
                for p in message_parts
                if p.get("type") == semconv.PART_TOOL_CALL
            ]
            if calls:
                payload = {"content": text, "tool_calls": calls}
        else:
            source = EventSource.SYSTEM
            metadata["role"] = role
        self._emit(
            ctx,
            event_id=derived_id(ctx.seed, "input", str(index)),
            payload=payload if self.capture_content else None,
            source=source,
            type=EventType.MESSAGE,
            timestamp=started,
            metadata=metadata,
        )

    def _tool_result(
        self,
        ctx: _Span,
        inputs: Sequence[Mapping[str, Any]],
        digests: Sequence[str],
        index: int,
        part: Mapping[str, Any],
        started: datetime,
    ) -> None:
        """A tool message's result: recorded unless its TOOL_CALL event is."""
        state = ctx.state
        assert state is not None
        call_id = part.get("id")
        call_id = call_id if isinstance(call_id, str) and call_id else None
        name, arguments, asking = "", None, None
        # The assistant message that asked for it: the nearest one before.
        for k in range(index - 1, -1, -1):
            message = inputs[k]
            if message.get("role") != "assistant":
                continue
            requested = [
                p
                for p in parts(message)
                if p.get("type") == semconv.PART_TOOL_CALL and p.get("id") == call_id
            ]
            if requested:
                name = str(requested[0].get("name") or "")
                arguments = requested[0].get("arguments")
                asking = state.calls.get(digests[k + 1])
                break
        if asking is not None and call_id is not None:
            if call_id in asking.recorded:
                return
            asking.recorded.add(call_id)
            event_id = derived_id(asking.event_id, "tool", call_id)
        else:
            event_id = derived_id(ctx.seed, "input", str(index), str(call_id))
        self._tool_event(
            ctx,
            event_id=event_id,
            name=name,
            call_id=call_id,
            arguments=arguments,
            result=part.get("response"),
            error=None,
            parent_event_id=asking.event_id if asking else None,
            timestamp=started,
        )

    def _llm_event(
        self,
        ctx: _Span,
        attrs: Mapping[str, Any],
        outputs: list[dict[str, Any]],
        digests: Sequence[str],
        context_digest: str,
        retry_of: str | None,
    ) -> None:
        state = ctx.state
        assert state is not None
        span = ctx.span
        output = outputs[0] if outputs else None
        output_parts = parts(output) if output is not None else []
        text = text_of(output_parts)
        tool_calls = _tool_calls(output_parts)
        # Choices after the first (``n`` > 1): kept beside the reply, never dropped.
        alternatives = [_reply(parts(other)) for other in outputs[1:]]
        failed = span.status.status_code is StatusCode.ERROR
        interrupted = attrs.get(semconv.A2A_STREAM_INTERRUPTED)
        reasoning = [
            p.get("content") for p in output_parts if p.get("type") == semconv.PART_REASONING
        ]
        unfinished = failed or interrupted in ("cut", "abandoned")
        payload: Any = text
        if tool_calls or unfinished or reasoning or alternatives:
            payload = {"content": text}
            if reasoning:
                payload["reasoning"] = "".join(r for r in reasoning if isinstance(r, str))
            if tool_calls:
                payload["tool_calls"] = tool_calls
            if failed:
                payload["error"] = self._error(span, attrs)
            if interrupted in ("cut", "abandoned"):
                payload["interrupted"] = interrupted
            if alternatives:
                payload["alternatives"] = alternatives

        model = attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL)
        metadata: dict[str, Any] = {"span_id": ctx.span_id, **_timing(span)}
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
        metadata[CONTEXT_DIGEST] = context_digest
        if retry_of is not None:
            metadata[RETRY_OF] = retry_of
        # A failed call is no continuation point: a retry sends its input again.
        conversation_digest = None
        if not failed and output is not None:
            conversation_digest = extend_digest(digests, (output,))
            metadata[CONVERSATION_DIGEST] = conversation_digest
        if unfinished:
            metadata[INPUT_DIGEST] = digests[-1]

        usage = self._usage(attrs, str(model or ""))
        if usage is None and failed:
            usage = trusted_usage(
                prompt_tokens=0,
                completion_tokens=0,
                cached_input_tokens=0,
                reasoning_tokens=0,
                model=str(model or ""),
                source="provider",
            )
        event_id = derived_id(ctx.seed, "llm")
        self._emit(
            ctx,
            event_id=event_id,
            payload=payload if self.capture_content else None,
            source=EventSource.LLM,
            type=EventType.MESSAGE,
            timestamp=_time(span.end_time),
            metadata=metadata,
            token_usage=usage,
        )
        if ctx.run_id in state.user_texts:
            del state.user_texts[ctx.run_id]
        if unfinished:
            state.add_retry(digests[-1], CallRef(event_id=event_id, context_digest=context_digest))
        if conversation_digest is not None:
            state.add_call(
                conversation_digest,
                CallRef(
                    event_id=event_id,
                    context_digest=context_digest,
                    tool_calls={
                        c["id"]: (str(c["name"] or ""), arguments_key(c["arguments"]))
                        for c in tool_calls
                        if isinstance(c["id"], str) and c["id"]
                    },
                ),
            )

    @staticmethod
    def _error(span: ReadableSpan, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """The ``LLMError`` payload of a failed call."""
        message = attrs.get(semconv.A2A_ERROR_MESSAGE) or span.status.description
        error: dict[str, Any] = {"type": str(attrs.get(semconv.ERROR_TYPE) or "error")}
        if message:
            error["message"] = str(message)[:_ERROR_MESSAGE_LIMIT]
        status = _int(attrs, semconv.HTTP_RESPONSE_STATUS_CODE)
        if status is not None:
            error["status_code"] = status
        return error

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
            cache_write_input_tokens=(
                _int(attrs, semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS) or 0
            ),
            reasoning_tokens=_int(attrs, semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS) or 0,
            model=model,
            source="counted" if source == "counted" else "provider",
        )

    # -- tools --------------------------------------------------------------
    def _tool(self, ctx: _Span, attrs: Mapping[str, Any]) -> None:
        state = ctx.state
        assert state is not None
        span = ctx.span
        name = str(attrs.get(semconv.GEN_AI_TOOL_NAME, span.name))
        arguments = from_json_text(attrs.get(semconv.GEN_AI_TOOL_CALL_ARGUMENTS))
        result = from_json_text(attrs.get(semconv.GEN_AI_TOOL_CALL_RESULT))
        raw_call_id = attrs.get(semconv.GEN_AI_TOOL_CALL_ID)
        call_id = raw_call_id if isinstance(raw_call_id, str) and raw_call_id else None
        parent = attrs.get(semconv.A2A_TOOL_PARENT_EVENT_ID)
        parent_event_id = parent if isinstance(parent, str) and parent else None
        asking: CallRef | None = None
        if parent_event_id is not None:
            asking = state.by_event.get(parent_event_id)
        else:
            found = state.pending(
                call_id, name, None if call_id is not None else arguments_key(arguments)
            )
            if found is not None:
                asking, call_id = found
                parent_event_id = asking.event_id
        if parent_event_id is not None and call_id is not None:
            event_id = derived_id(parent_event_id, "tool", call_id)
            if asking is not None:
                asking.recorded.add(call_id)
        else:
            event_id = derived_id(ctx.seed, "tool")
        error = None
        if span.status.status_code is StatusCode.ERROR:
            error = attrs.get(semconv.A2A_ERROR_MESSAGE) or span.status.description
        elif attrs.get(semconv.A2A_RUN_CANCELLED):
            error = "cancelled"
        self._tool_event(
            ctx,
            event_id=event_id,
            name=name,
            call_id=call_id,
            arguments=arguments,
            result=result,
            error=error,
            parent_event_id=parent_event_id,
            timestamp=_time(span.end_time),
            timing=_timing(span),
        )

    def _tool_event(
        self,
        ctx: _Span,
        *,
        event_id: str,
        name: str,
        call_id: str | None,
        arguments: Any,
        result: Any,
        error: Any,
        parent_event_id: str | None,
        timestamp: datetime,
        timing: dict[str, Any] | None = None,
    ) -> None:
        capture = self.capture_content
        payload: dict[str, Any] = {
            "tool_name": name,
            "call_id": call_id,
            "arguments": arguments if capture else None,
            "result": result if capture else None,
            "error": None if error is None else str(error),
        }
        metadata: dict[str, Any] = {"span_id": ctx.span_id, **(timing or {})}
        if parent_event_id is not None:
            metadata["parent_event_id"] = parent_event_id
        self._emit(
            ctx,
            event_id=event_id,
            payload=payload,
            source=EventSource.TOOL,
            type=EventType.TOOL_CALL,
            timestamp=timestamp,
            metadata=metadata,
        )
