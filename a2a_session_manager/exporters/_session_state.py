"""What the mapper remembers of a session, and how it is rebuilt from the store.

Nothing here decides *whether* something is recorded on its own: every fact
is also on the stored events (``conversation_digest``, ``context_digest``,
``input_digest`` and ``retry_of`` on LLM events, ``parent_event_id`` and
``call_id`` on tool events), and a
session this process has not seen, or has forgotten, is rebuilt from the
store by :func:`state_from_events`. Memory only saves reads. Everything is
bounded: a few hundred calls per session, a few thousand sessions.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from a2a_session_manager.exporters._conversation import digest_of
from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.payloads import RETRY_OF, read_llm_message, read_tool_call
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.storage.positions import START, EventPosition

MAX_CALLS = 256  # recorded calls remembered per session
MAX_RETRIES = 64  # unfinished calls remembered per session, until retried
MAX_RUNS_WITH_TEXTS = 32  # runs whose record_event texts are remembered
MAX_TEXTS_PER_RUN = 64

# Keys of the LLM event's metadata that let any process recognise continuations.
CONVERSATION_DIGEST = "conversation_digest"
CONTEXT_DIGEST = "context_digest"
# An unfinished call (failed, or its stream cut or abandoned) leaves no
# continuation point but its input: the digest of what it sent. The next
# request that begins with that input retries it (its LLM event names the
# attempt in ``retry_of``), so what the attempt already recorded is not new.
INPUT_DIGEST = "input_digest"
ORIGIN = "origin"
ORIGIN_REQUEST = "request"  # an assistant message that came in a request, not from a call
ORIGIN_A2A = "a2a"  # another agent's answer over the A2A protocol


@dataclass
class CallRef:
    """A recorded provider call: its LLM event, the instructions it was
    given, the tool calls it asked for and which of them are recorded."""

    event_id: str
    context_digest: str | None
    tool_calls: dict[str, tuple[str, Any]] = field(default_factory=dict)  # id -> (name, args)
    recorded: set[str] = field(default_factory=set)  # call ids with a TOOL_CALL event


class _Bounded(OrderedDict[Any, Any]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


@dataclass
class SessionState:
    calls: _Bounded = field(default_factory=lambda: _Bounded(MAX_CALLS))  # digest -> CallRef
    by_event: dict[str, CallRef] = field(default_factory=dict)
    # run id -> digests of texts recorded with record_event(source=USER) since
    # that run's last call: the next request carries them again.
    user_texts: _Bounded = field(default_factory=lambda: _Bounded(MAX_RUNS_WITH_TEXTS))
    # input digest -> the unfinished call that sent it, not yet retried
    retries: _Bounded = field(default_factory=lambda: _Bounded(MAX_RETRIES))
    # event ids of unfinished calls retried here (the store may not say so yet)
    retried: _Bounded = field(default_factory=lambda: _Bounded(MAX_RETRIES))
    loaded_batch: int = -1  # the batch in which the store was last read
    # How far the store's events are folded in: the next read starts there
    # (a state made anew, after eviction, reads the whole session again).
    position: EventPosition = START

    def add_call(self, digest: str, ref: CallRef) -> None:
        if digest in self.calls:
            self.by_event.pop(self.calls[digest].event_id, None)
        self.calls.remember(digest, ref)
        self.by_event[ref.event_id] = ref
        if len(self.by_event) > len(self.calls):
            live = {r.event_id for r in self.calls.values()}
            for event_id in [e for e in self.by_event if e not in live]:
                del self.by_event[event_id]

    def add_retry(self, digest: str, ref: CallRef) -> None:
        self.retries.remember(digest, ref)

    def take_retry(self, digest: str) -> None:
        """The unfinished call that sent ``digest`` is retried: no request
        retries it again (the same input sent later is a new request)."""
        ref = self.retries.pop(digest, None)
        if ref is not None:
            self.retried.remember(ref.event_id, True)

    def pending(
        self, call_id: str | None, name: str, arguments: str | None
    ) -> tuple[CallRef, str] | None:
        """The latest call that asked for ``call_id`` (or, without an id, for a
        tool named ``name``, same arguments first) whose result is not recorded,
        with the id of the call it asked for."""
        same_name: tuple[CallRef, str] | None = None
        for ref in reversed(self.calls.values()):
            if call_id is not None:
                if call_id in ref.tool_calls and call_id not in ref.recorded:
                    return ref, call_id
                continue
            for cid, (called, key) in ref.tool_calls.items():
                if called != name or cid in ref.recorded:
                    continue
                if key == arguments:
                    return ref, cid
                if same_name is None:
                    same_name = (ref, cid)
        return same_name

    def remember_user_text(self, run_id: str | None, digest: bytes) -> None:
        texts: list[bytes] | None = self.user_texts.get(run_id)
        if texts is None:
            texts = []
        texts.append(digest)
        del texts[:-MAX_TEXTS_PER_RUN]
        self.user_texts.remember(run_id, texts)

    def take_user_text(self, run_id: str | None, digest: bytes) -> bool:
        texts: list[bytes] | None = self.user_texts.get(run_id)
        if texts and digest in texts:
            texts.remove(digest)
            return True
        return False


def state_from_events(state: SessionState, events: Iterable[SessionEvent]) -> None:
    """Add the calls, tool results and unretried unfinished calls recorded in
    ``events`` to ``state``."""
    tool_events: list[SessionEvent] = []
    unfinished: dict[str, tuple[str, CallRef]] = {}  # event id -> (input digest, call)
    for event in events:
        if event.source is EventSource.TOOL and event.type == EventType.TOOL_CALL:
            tool_events.append(event)
            continue
        if event.source is not EventSource.LLM:
            continue
        retry_of = event.metadata.get(RETRY_OF)
        if isinstance(retry_of, str):
            unfinished.pop(retry_of, None)
            state.retried.remember(retry_of, True)
        input_digest = event.metadata.get(INPUT_DIGEST)
        if isinstance(input_digest, str) and event.id not in state.retried:
            context = event.metadata.get(CONTEXT_DIGEST)
            unfinished[event.id] = (
                input_digest,
                CallRef(event.id, context if isinstance(context, str) else None),
            )
        digest = event.metadata.get(CONVERSATION_DIGEST)
        if not isinstance(digest, str) or digest in state.calls:
            continue
        context = event.metadata.get(CONTEXT_DIGEST)
        message = read_llm_message(event.message)
        state.add_call(
            digest,
            CallRef(
                event_id=event.id,
                context_digest=context if isinstance(context, str) else None,
                tool_calls={
                    c.id: (c.name, arguments_key(c.arguments)) for c in message.tool_calls if c.id
                },
            ),
        )
    for digest, ref in list(state.retries.items()):
        if ref.event_id in state.retried:  # another process retried it
            del state.retries[digest]
    for input_digest, ref in unfinished.values():
        if input_digest not in state.retries:
            state.add_retry(input_digest, ref)
    for event in tool_events:
        parent = event.metadata.get("parent_event_id")
        ref = state.by_event.get(parent) if isinstance(parent, str) else None
        call_id = read_tool_call(event.message).call_id
        if ref is not None and call_id is not None:
            ref.recorded.add(call_id)


def arguments_key(arguments: Any) -> str:
    """Arguments compared by value, whatever their spelling."""
    return digest_of(arguments)
