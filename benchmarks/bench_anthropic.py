"""The instrumented Anthropic client (issue 12): what recording a call adds,
next to a raw OpenTelemetry span around ``create()`` (the floor) in the same
process, and what the stream proxy adds per event.

Run: python -m benchmarks.bench_anthropic   (Markdown on stdout)

- The wrapper's own cost: the installed wrapper around a ``create`` that
  returns a recorded ``Message`` at once (no HTTP, no client parsing), next
  to a raw span around the same; variants interleaved in blocks.
- Per-event cost of a stream, in thread CPU time, over pre-built
  ``RawMessageStreamEvent`` objects (text deltas, ``input_json`` deltas).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import anthropic
from anthropic.types import Message, RawMessageStreamEvent
from opentelemetry.sdk.trace import TracerProvider
from pydantic import TypeAdapter

import a2a_session_manager as asm
from a2a_session_manager.instrumentation.anthropic._stream import MessageAccumulator
from a2a_session_manager.instrumentation.anthropic._wrappers import sync_wrapper
from a2a_session_manager.instrumentation.openai._stream import SyncStreamProxy
from a2a_session_manager.sdk import Handle
from a2a_session_manager.storage import InMemorySessionStore
from benchmarks._timing import interleaved, raw_span_around
from benchmarks.bench_openai import call_rows

# The same request and recorded response as the peers' harness (peers/anthropic_overhead.py).
_RECORDED = json.loads(
    (Path(__file__).with_name("peers") / "anthropic_message.json").read_text(encoding="utf-8")
)
MODEL = "claude-sonnet-4-5"
CANNED: dict[str, Any] = _RECORDED["response"]


def bench_wrapper(handle: Handle, store: InMemorySessionStore) -> tuple[dict[str, float], int]:
    response = Message.model_validate(CANNED)
    client = anthropic.Anthropic(base_url="http://127.0.0.1:9", api_key="test")
    instance = client.messages
    kwargs: dict[str, Any] = dict(_RECORDED["request"])

    def create(**_: Any) -> Message:
        return response

    traced = sync_wrapper(
        handle.tracer_provider.get_tracer("a2a_session_manager.instrumentation.anthropic")
    )

    def bare() -> None:
        create(**kwargs)

    floor = raw_span_around(f"chat {MODEL}", bare)

    def ours() -> None:
        traced(create, instance, (), kwargs)

    with asm.session("bench-anthropic-wrapper"):
        result = interleaved(
            {"bare": bare, "floor": floor, "ours": ours},
            calls=1_000,
            repeats=11,
            warmup=200,
        )
        cpu = interleaved(
            {"bare": bare, "floor": floor, "ours": ours},
            calls=1_000,
            repeats=11,
            warmup=200,
            clock=time.thread_time_ns,
        )
        result.update({f"cpu_{key}": value for key, value in cpu.items()})
    stored = store.get("bench-anthropic-wrapper")
    return result, len(stored.events) if stored else 0


class _Stream:
    def __init__(self, items: list[Any]) -> None:
        self._items = iter(items)

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        return next(self._items)

    def close(self) -> None:
        pass


def bench_events(n: int = 1000, rounds: int = 60) -> list[str]:
    adapter: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
    start = {"type": "message_start", "message": {**CANNED, "content": [], "stop_reason": None}}
    kinds = {
        "text deltas": [
            adapter.validate_python(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": f"tok{i} "},
                }
            )
            for i in range(n)
        ],
        "input_json deltas": [
            adapter.validate_python(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": "ab"},
                }
            )
            for _ in range(n)
        ],
    }
    opening = {
        "text deltas": {"type": "text", "text": ""},
        "input_json deltas": {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}},
    }
    tracer = TracerProvider().get_tracer("bench")

    def bare(items: list[Any]) -> int:
        stream = _Stream(items)
        began = time.thread_time_ns()
        for _ in stream:
            pass
        return time.thread_time_ns() - began

    rows = [
        "| events | added ns per event (median) | p25 | p75 |",
        "|---|---:|---:|---:|",
    ]
    for name, items in kinds.items():
        head = [
            adapter.validate_python(start),
            adapter.validate_python(
                {"type": "content_block_start", "index": 0, "content_block": opening[name]}
            ),
        ]
        per_event: list[float] = []
        for _ in range(rounds):
            accumulator = MessageAccumulator(MODEL)
            proxy = SyncStreamProxy(_Stream(head + items), tracer.start_span("chat"), accumulator)
            next(proxy), next(proxy)
            began = time.thread_time_ns()
            for _ in range(len(items)):
                next(proxy)
            proxied = time.thread_time_ns() - began
            per_event.append((proxied - bare(items)) / len(items))
            proxy.close()
        q = statistics.quantiles(per_event, n=4)
        rows.append(f"| {name} | {statistics.median(per_event):,.0f} | {q[0]:,.0f} | {q[2]:,.0f} |")
    return rows


def main() -> str:
    events = bench_events()
    store = InMemorySessionStore()
    handle = asm.configure(store=store, tracer_provider=TracerProvider())
    try:
        rows = call_rows(
            "The Anthropic instrumentation's own cost (wrapper around a `create` returning a "
            "recorded `Message`)",
            *bench_wrapper(handle, store),
        )
    finally:
        handle.shutdown()
    rows = [r.replace("`OpenAIInstrumentor`", "`AnthropicInstrumentor`") for r in rows]
    return "\n".join(["### Non-streaming calls", *rows, "", "### Streams: per event", *events])


if __name__ == "__main__":
    print(main())
