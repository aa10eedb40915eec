"""Span → session mapping (issue 9): what mapping one chat call costs as the
conversation grows, in the background thread that writes sessions.

Run: python -m benchmarks.bench_mapping   (Markdown on stdout)

Each sample maps one chat span whose request continues the previous call of
its session (that call already mapped, as in a real conversation): the
mapper hashes every message once to find the continued call, then records
only the new user message and the reply. The cost per call grows with the
request's length (each message is hashed), so the cost per message of the
request should stay flat from 4 to 200 messages (the shortest request that
continues a call: system, user, reply, user).

The second table: a stateless application whose every request carries an
assistant message no recorded call produced (a few-shot example), so each
batch asks the store what the session gained (``events_since``). Batches of
100 calls into a session that already holds 1,000 / 10,000 / 100,000 events
(half of them LLM events), side by side with reading the whole session each
batch (what the exporter did before): the cost per call must stay flat.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from a2a_session_manager.exporters import SpanMapper
from a2a_session_manager.models import EventSource, SessionEvent
from a2a_session_manager.storage import (
    FileSessionStore,
    InMemorySessionStore,
    SessionChanges,
    create_store,
)
from a2a_session_manager.storage.positions import START, EventPosition, NewEvents
from a2a_session_manager.telemetry import semconv
from benchmarks._services import redis_server

SIZES = (4, 20, 200)
SESSIONS = 300
HISTORY_SIZES = (1_000, 10_000, 100_000)
CALLS_PER_BATCH = 100
HISTORY_BATCHES = 9


def _text(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def _conversation(n: int) -> list[dict[str, Any]]:
    """``n`` (even) messages: system, user/assistant turns, the new user message."""
    messages = [_text("system", "You are a concise travel assistant.")]
    turn = 0
    while len(messages) < n - 1:
        messages.append(_text("user", f"Question {turn}: what about the weather in city {turn}?"))
        messages.append(_text("assistant", f"Answer {turn}: sunny, 21 degrees, light wind. " * 3))
        turn += 1
    messages.append(_text("user", "And tomorrow?"))
    return messages[:n]


def _spans(sessions: int, n: int) -> list[tuple[ReadableSpan, ReadableSpan]]:
    """Per session: the previous call (request ``n - 2`` messages, its reply)
    and the call that continues it (request ``n`` messages)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("a2a_session_manager.instrumentation.openai")
    conversation = _conversation(n)
    previous_input, previous_output = conversation[: n - 2], conversation[n - 2]
    pairs = []
    for index in range(sessions):
        for inputs, output in (
            (previous_input, previous_output),
            (conversation, _text("assistant", "Tomorrow: rain.")),
        ):
            with tracer.start_as_current_span("chat gpt-4o-mini") as span:
                span.set_attributes(
                    {
                        semconv.SESSION_ID: f"s{n}-{index}",
                        semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_CHAT,
                        semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                        semconv.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini",
                        semconv.GEN_AI_USAGE_INPUT_TOKENS: 10 * n,
                        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
                        semconv.GEN_AI_INPUT_MESSAGES: json.dumps(inputs),
                        semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([output]),
                    }
                )
        first, second = exporter.get_finished_spans()[-2:]
        pairs.append((first, second))
    provider.shutdown()
    return pairs


def bench_continuation(n: int) -> tuple[float, int]:
    """Median µs to map one continuing call of ``n`` messages; events it made."""
    pairs = _spans(SESSIONS, n)
    mapper = SpanMapper()
    samples = []
    made = 0
    gc.disable()
    try:
        for previous, current in pairs:
            mapper.map([previous])
            start = time.perf_counter_ns()
            changes = mapper.map([current])
            samples.append((time.perf_counter_ns() - start) / 1000)
            made = sum(len(c.events) for c in changes.values())
    finally:
        gc.enable()
    return statistics.median(samples), made


def _few_shot_spans(session_id: str, calls: int) -> list[ReadableSpan]:
    """Chat spans of a stateless app: a few-shot example, then a new question."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("a2a_session_manager.instrumentation.openai")
    example = [_text("user", "1+1?"), _text("assistant", "2")]
    for index in range(calls):
        with tracer.start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attributes(
                {
                    semconv.SESSION_ID: session_id,
                    semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_CHAT,
                    semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                    semconv.GEN_AI_USAGE_INPUT_TOKENS: 20,
                    semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
                    semconv.GEN_AI_INPUT_MESSAGES: json.dumps(
                        [*example, _text("user", f"Question {index}?")]
                    ),
                    semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps(
                        [_text("assistant", f"Answer {index}.")]
                    ),
                }
            )
    provider.shutdown()
    return list(exporter.get_finished_spans())


def _stored_before(n: int) -> list[SessionEvent]:
    """``n`` events as earlier calls leave them: user messages and LLM events
    carrying the digests the mapper folds."""
    events = []
    for k in range(n // 2):
        events.append(SessionEvent(id=f"u{k}", message=f"question {k}", source=EventSource.USER))
        events.append(
            SessionEvent(
                id=f"l{k}",
                message=f"answer {k}",
                source=EventSource.LLM,
                metadata={"conversation_digest": f"d{k}", "context_digest": "c"},
            )
        )
    return events


class _History:
    """The exporter's history read (``events_since``), or the whole session
    each time (``whole``, as before); counts the events read back."""

    def __init__(self, store: Any, *, whole: bool) -> None:
        self.store, self.whole, self.events_read = store, whole, 0

    def __call__(self, session_id: str, position: EventPosition) -> NewEvents:
        new: NewEvents = self.store.events_since(session_id, START if self.whole else position)
        self.events_read += len(new.events)
        return new


def bench_history(store: Any, n: int) -> dict[str, tuple[float, float]]:
    """µs of mapper CPU per call (median over batches) and events read back per
    batch, for incremental and whole reads of a session holding ``n`` events."""
    variants: dict[str, tuple[SpanMapper, _History, list[list[ReadableSpan]]]] = {}
    for name in ("incremental", "whole"):
        session_id = f"{name}-{n}"
        store.apply(SessionChanges(session_id, events=_stored_before(n)))
        history = _History(store, whole=name == "whole")
        spans = _few_shot_spans(session_id, CALLS_PER_BATCH * (HISTORY_BATCHES + 1))
        batches = [spans[i : i + CALLS_PER_BATCH] for i in range(0, len(spans), CALLS_PER_BATCH)]
        variants[name] = (SpanMapper(history=history), history, batches)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    read: dict[str, list[int]] = {name: [] for name in variants}
    for batch in range(HISTORY_BATCHES + 1):  # the first: this process's first (whole) read
        order = list(variants) if batch % 2 else list(reversed(variants))
        for name in order:
            mapper, history, batches = variants[name]
            before = history.events_read
            gc.disable()
            try:
                start = time.thread_time_ns()
                changes = mapper.map(batches[batch])
                spent = time.thread_time_ns() - start
            finally:
                gc.enable()
            for item in changes.values():
                store.apply(item)
            if batch:
                samples[name].append(spent / 1000 / CALLS_PER_BATCH)
                read[name].append(history.events_read - before)
    return {
        name: (statistics.median(samples[name]), statistics.median(read[name])) for name in variants
    }


def _history_rows(label: str, make: Callable[[], Any]) -> list[str]:
    rows = []
    for n in HISTORY_SIZES:
        store = make()
        try:
            found = bench_history(store, n)
        finally:
            store.close()
        (new_us, new_read), (old_us, old_read) = found["incremental"], found["whole"]
        rows.append(
            f"| {label} | {n:,} | {new_us:.1f} | {new_read:,.0f} | {old_us:.1f} | "
            f"{old_read:,.0f} | {old_us / new_us:.1f}× |"
        )
    return rows


def main() -> str:
    history_rows = [
        "| store | events before | µs per call, incremental | events read per batch | "
        "µs per call, whole session | events read per batch | whole / incremental |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    bench_history(InMemorySessionStore(), 1_000)  # warm-up, not reported
    history_rows += _history_rows("memory", InMemorySessionStore)
    with tempfile.TemporaryDirectory() as directory:
        counter = iter(range(len(HISTORY_SIZES)))
        history_rows += _history_rows(
            "file",
            lambda: FileSessionStore(os.path.join(directory, str(next(counter)))),
        )
    with redis_server() as url:
        history_rows += _history_rows("redis", lambda: create_store(url))
    rows = [
        "| request messages | µs per call (median) | µs per request message | events recorded |",
        "|---:|---:|---:|---:|",
    ]
    for n in SIZES:
        per_call, made = bench_continuation(n)
        rows.append(f"| {n} | {per_call:.1f} | {per_call / n:.2f} | {made} |")
    return "\n".join(
        [
            "Mapping one chat span that continues the previous call of its session "
            f"(median of {SESSIONS} sessions; the mapper runs off the caller's thread). "
            "Each call records only what is new (the last user message and the reply).",
            "",
            *rows,
            "",
            "Every request carries an assistant message no recorded call produced "
            f"(a few-shot example), in batches of {CALLS_PER_BATCH} calls, so every "
            "batch asks the store what the session gained. Mapper CPU per call "
            "(`time.thread_time_ns`, the store read and the fold included, median of "
            f"{HISTORY_BATCHES} batches after the first), the two variants interleaved "
            "batch by batch; *whole session* reads every event each batch, as the "
            "exporter did before `events_since`. Redis: this process's CPU only "
            "(decoding what LRANGE returns), not the server's.",
            "",
            *history_rows,
        ]
    )


if __name__ == "__main__":
    print(main())
