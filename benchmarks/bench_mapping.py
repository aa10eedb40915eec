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
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from a2a_session_manager.exporters import SpanMapper
from a2a_session_manager.telemetry import semconv

SIZES = (4, 20, 200)
SESSIONS = 300


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


def main() -> str:
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
        ]
    )


if __name__ == "__main__":
    print(main())
