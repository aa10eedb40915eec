"""The exporter reads a session's history incrementally: when every request
carries an assistant message no recorded call produced (few-shot examples,
history loaded from elsewhere), each batch reads back only the events stored
since its last read, never the whole session again; what is recorded does
not change. Real stores (subclassed to count what they return) and the real
span processor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from a2a_session_manager.exporters import SessionSpanProcessor
from a2a_session_manager.models import EventSource, Session, SessionEvent
from a2a_session_manager.storage import (
    EventPosition,
    FileSessionStore,
    InMemorySessionStore,
    NewEvents,
    SessionChanges,
)
from a2a_session_manager.storage.positions import START
from a2a_session_manager.telemetry import semconv

STORED_BEFORE = 2_000  # events the session holds before the calls
BATCHES = 50


class _Counting:
    """Counts the store's reads and the events they return."""

    reads = 0
    events_read = 0
    whole_reads = 0

    def events_since(self, session_id: str, position: EventPosition = START) -> NewEvents:
        new: NewEvents = super().events_since(session_id, position)  # type: ignore[misc]
        self.reads += 1
        self.events_read += len(new.events)
        return new

    def get(self, session_id: str) -> Session | None:
        self.whole_reads += 1
        found: Session | None = super().get(session_id)  # type: ignore[misc]
        return found


class CountingMemoryStore(_Counting, InMemorySessionStore):
    pass


class CountingFileStore(_Counting, FileSessionStore):
    pass


class PlainStore:
    """A custom store with only the ``SessionStore`` protocol (no
    ``BaseSessionStore``, no ``events_since``): the exporter reads it whole."""

    def __init__(self) -> None:
        self.inner = InMemorySessionStore()
        self.whole_reads = 0

    def get(self, session_id: str) -> Session | None:
        self.whole_reads += 1
        return self.inner.get(session_id)

    def save(self, session: Session) -> None:
        self.inner.save(session)

    def apply(self, changes: SessionChanges) -> None:
        self.inner.apply(changes)

    def delete(self, session_id: str) -> None:
        self.inner.delete(session_id)

    def exists(self, session_id: str) -> bool:
        return self.inner.exists(session_id)

    def list_sessions(self, prefix: str = "") -> list[str]:
        return self.inner.list_sessions(prefix)

    def children(self, session_id: str) -> list[str]:
        return self.inner.children(session_id)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    made: Any = CountingMemoryStore() if request.param == "memory" else CountingFileStore(tmp_path)
    yield made
    made.close()


def _text(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


EXAMPLE = [_text("user", "1+1?"), _text("assistant", "2")]  # few-shot: no call of ours


def _chat(tracer: Tracer, session_id: str, inputs: list[Any], reply: str) -> None:
    with tracer.start_as_current_span("chat gpt-4o-mini") as span:
        span.set_attributes(
            {
                semconv.SESSION_ID: session_id,
                semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_CHAT,
                semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                semconv.GEN_AI_USAGE_INPUT_TOKENS: 10,
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 2,
                semconv.GEN_AI_INPUT_MESSAGES: json.dumps(inputs),
                semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([_text("assistant", reply)]),
            }
        )


def _recording(store: Any) -> tuple[SessionSpanProcessor, Tracer, TracerProvider]:
    processor = SessionSpanProcessor(store, schedule_delay=3600)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return processor, provider.get_tracer("instrumentation.openai"), provider


def test_each_batch_reads_back_only_what_was_stored_since(store: Any) -> None:
    store.apply(
        SessionChanges(
            "big",
            events=[
                SessionEvent(id=f"old-{n}", message=f"note {n}", source=EventSource.USER)
                for n in range(STORED_BEFORE)
            ],
        )
    )
    store.whole_reads = 0  # (the file store's index reads the log it made)
    processor, tracer, provider = _recording(store)
    try:
        for batch in range(BATCHES):
            _chat(tracer, "big", [*EXAMPLE, _text("user", f"q{batch}")], f"a{batch}")
            assert processor.force_flush()
    finally:
        provider.shutdown()

    reads, events_read, whole_reads = store.reads, store.events_read, store.whole_reads
    session = store.get("big")
    assert session is not None
    # Recorded as before: each stateless request whole (the example is no call).
    assert len(session.events) == STORED_BEFORE + 4 * BATCHES
    assert [e.message for e in session.events[-4:]] == ["1+1?", "2", "q49", "a49"]
    assert reads == BATCHES  # the history was asked for in every batch ...
    # ... and each stored event came back once at most: O(new events), not
    # O(session × batches) (~100,000 events with whole reads).
    assert events_read <= len(session.events)
    assert whole_reads == 0


def test_a_forgotten_session_is_read_whole_again(store: Any) -> None:
    processor, tracer, provider = _recording(store)
    processor.mapper._max_sessions = 1  # remembers one session at a time
    try:
        for batch in range(3):
            for session_id in ("a", "b"):  # each evicts the other's state
                _chat(tracer, session_id, [*EXAMPLE, _text("user", f"q{batch}")], f"a{batch}")
                assert processor.force_flush()
    finally:
        provider.shutdown()
    # Every read starts from the first event: 0 + 4 + 8 per session.
    assert store.events_read == 2 * (0 + 4 + 8)


def test_two_processors_recognise_each_others_calls_through_a_plain_store() -> None:
    """Two workers (each its own processor) alternate on one session stored in
    a custom store that only implements the protocol: each continuation is
    recognised from the store, so every message is recorded once."""
    store = PlainStore()
    workers = [_recording(store) for _ in range(2)]
    messages: list[Any] = [*EXAMPLE]
    try:
        for turn in range(6):
            processor, tracer, _ = workers[turn % 2]
            messages.append(_text("user", f"q{turn}"))
            _chat(tracer, "shared", messages, f"a{turn}")
            messages.append(_text("assistant", f"a{turn}"))
            assert processor.force_flush()
    finally:
        for _, _, provider in workers:
            provider.shutdown()
    session = store.inner.get("shared")
    assert session is not None
    expected = ["1+1?", "2"] + [m for t in range(6) for m in (f"q{t}", f"a{t}")]
    assert [e.message for e in session.events] == expected
    priced = [e.token_usage is not None for e in session.events]
    assert priced == [False, False] + [False, True] * 6
    assert store.whole_reads > 0  # the fallback read it
