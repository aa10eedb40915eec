"""The instrumented OpenAI client (issue 5): what recording a call adds, next
to a raw OpenTelemetry span around ``create()`` (the floor) in the same
process, and what the stream proxy adds per chunk.

Run: python -m benchmarks.bench_openai   (Markdown on stdout)

- Non-streaming calls go to the local OpenAI-compatible server over real HTTP;
  variants are interleaved in blocks, the order flipped every repeat, and the
  added cost is the median variant minus the median bare call.
- Per-chunk cost is measured in-process over pre-built ``ChatCompletionChunk``
  objects (no network noise), in thread CPU time.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.exporters._metrics import GenAIMetricsProcessor
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.instrumentation.openai._stream import ChatAccumulator, SyncStreamProxy
from a2a_session_manager.instrumentation.openai._wrappers import CHAT, sync_wrapper
from a2a_session_manager.sdk import Handle
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.testing import LocalOpenAIServer
from benchmarks._timing import interleaved, raw_span_around

PEERS_NOTE = (
    "Reference (issue 5, measured here with each peer in its own venv, added µs per "
    "non-streaming call): raw OTel span ≈ 50 (the floor), official "
    "opentelemetry-instrumentation-openai-v2 ≈ 102, Langfuse ≈ 275, OpenInference ≈ 285, "
    "Logfire ≈ 527, OpenLLMetry ≈ 700. `python -m benchmarks.bench_peers` re-measures them "
    "on this machine."
)
MESSAGES: Any = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is the capital of France? Answer in one word."},
]


CANNED = json.loads(
    (Path(__file__).with_name("peers") / "chat_completion.json").read_text(encoding="utf-8")
)


def metered_provider(handle: Handle) -> TracerProvider:
    """The same session processor with GenAI metrics on: a provider of its own,
    so the other variants record no metrics."""
    provider = TracerProvider()
    assert handle.processor is not None
    provider.add_span_processor(handle.processor)
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    provider.add_span_processor(GenAIMetricsProcessor(meters))
    return provider


def bench_wrapper(handle: Handle, store: InMemorySessionStore) -> tuple[dict[str, float], int]:
    """The instrumentation's own cost, free of the client's 2-3 ms of request
    building and parsing: the installed wrapper around a ``create`` that returns
    a recorded ``ChatCompletion`` at once, next to a raw span around the same."""
    response = ChatCompletion.model_validate(CANNED)
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="test")
    instance = client.chat.completions
    kwargs: dict[str, Any] = {"model": "gpt-4o-mini", "messages": MESSAGES, "temperature": 0.2}

    def create(**_: Any) -> ChatCompletion:
        return response

    traced = sync_wrapper(
        handle.tracer_provider.get_tracer("a2a_session_manager.instrumentation.openai"), CHAT
    )

    def bare() -> None:
        create(**kwargs)

    floor = raw_span_around("chat gpt-4o-mini", bare)

    def ours() -> None:
        traced(create, instance, (), kwargs)

    def ours_stored() -> None:
        traced(create, instance, (), kwargs)
        handle.force_flush()

    metered = sync_wrapper(
        metered_provider(handle).get_tracer("a2a_session_manager.instrumentation.openai"), CHAT
    )

    def ours_metrics() -> None:
        metered(create, instance, (), kwargs)

    with asm.session("bench-openai-wrapper"):
        result = interleaved(
            {
                "bare": bare,
                "floor": floor,
                "ours": ours,
                "ours_metrics": ours_metrics,
                "ours_stored": ours_stored,
            },
            calls=2_000,
            repeats=15,
            warmup=200,
        )
        # What the caller's thread pays (metrics are recorded by a background
        # thread, which a back-to-back loop keeps busy: the wall times above).
        cpu = interleaved(
            {"bare": bare, "floor": floor, "ours": ours, "ours_metrics": ours_metrics},
            calls=2_000,
            repeats=9,
            warmup=200,
            clock=time.thread_time_ns,
        )
        result.update({f"cpu_{key}": value for key, value in cpu.items()})
    stored = store.get("bench-openai-wrapper")
    return result, len(stored.events) if stored else 0


def bench_calls(
    client: openai.OpenAI, handle: Handle, store: InMemorySessionStore, *, calls: int, repeats: int
) -> tuple[dict[str, float], int]:
    """Median µs per call: bare, under the raw-span floor, and instrumented."""
    instrumentor = OpenAIInstrumentor()
    metered = metered_provider(handle)
    state: dict[str, Any] = {"on": None}

    def toggle(on: Any) -> None:
        if on is state["on"]:
            return
        if state["on"] is not None:
            instrumentor.uninstrument()
        if on is not None:
            instrumentor.instrument(tracer_provider=on)
        state["on"] = on

    providers = {"ours": handle.tracer_provider, "ours_metrics": metered}
    providers["ours_stored"] = handle.tracer_provider

    def before_block(name: str) -> None:
        # Untimed: (un)instrumenting the client, and the session writer's work
        # left by the previous block, are not charged to this block's calls.
        toggle(providers.get(name))
        handle.force_flush()

    def create() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    floor = raw_span_around("chat gpt-4o-mini", create)

    def ours_stored() -> None:
        create()
        handle.force_flush()  # the session written before the next call

    session_id = f"bench-openai-{calls}"
    with asm.session(session_id):
        result = interleaved(
            {
                "bare": create,
                "floor": floor,
                "ours": create,
                "ours_metrics": create,
                "ours_stored": ours_stored,
            },
            calls=calls,
            repeats=repeats,
            warmup=20,
            before_block=before_block,
        )
    toggle(None)
    stored = store.get(session_id)
    return result, len(stored.events) if stored else 0


def call_rows(title: str, result: dict[str, float], recorded: int) -> list[str]:
    floor_added = result["floor"] - result["bare"]
    rows = [
        f"{title}: bare call {result['bare']:.0f} µs; {recorded:,} events recorded.",
        "",
        "| variant | added µs per call | vs the raw-span floor |",
        "|---|---:|---:|",
        f"| raw OTel span around `create()` (floor) | {floor_added:.1f} | 1.00× |",
    ]
    for key, label in (
        ("ours", "`OpenAIInstrumentor` (span; session written in the background)"),
        ("ours_metrics", "`OpenAIInstrumentor` + GenAI metrics (recorded in the background)"),
        ("ours_stored", "`OpenAIInstrumentor` + session written before the next call"),
    ):
        if key not in result:
            continue
        added = result[key] - result["bare"]
        rows.append(f"| {label} | {added:.1f} | {added / floor_added:.2f}× |")
    if "cpu_floor" in result:
        cpu_floor = result["cpu_floor"] - result["cpu_bare"]
        cpu_ours = result["cpu_ours"] - result["cpu_bare"]
        rows += [
            "",
            f"The caller's thread CPU per call (steadier than wall time on a loaded machine): "
            f"raw span {cpu_floor:.1f} µs, `OpenAIInstrumentor` {cpu_ours:.1f} µs, "
            f"{cpu_ours / cpu_floor:.2f}× (target ≤ 1.50×).",
        ]
    if "ours_metrics" in result:
        on, off = result["ours_metrics"] - result["bare"], result["ours"] - result["bare"]
        rows += ["", f"GenAI metrics on / off, wall time per call: {on / off:.2f}×"]
        if "cpu_ours_metrics" in result:
            cpu_on = result["cpu_ours_metrics"] - result["cpu_bare"]
            cpu_off = result["cpu_ours"] - result["cpu_bare"]
            rows[-1] += (
                f"; the caller's thread CPU per call: {cpu_off:.1f} µs off, {cpu_on:.1f} µs on, "
                f"{cpu_on / cpu_off:.2f}× (target ≤ 1.20×)."
            )
        else:
            rows[-1] += "."
    return rows


def _chunk(delta: dict[str, Any]) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}],
        }
    )


class _Stream:
    """The part of ``openai.Stream`` the proxy uses: iteration."""

    def __init__(self, items: list[ChatCompletionChunk]) -> None:
        self._it: Iterator[ChatCompletionChunk] = iter(items)

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> ChatCompletionChunk:
        return next(self._it)


def bench_chunks(n: int = 1000, rounds: int = 200) -> list[str]:
    """Per chunk: the proxy's ``__next__`` over ``n`` chunks minus the bare
    stream's, in thread CPU time; then, separately, the stream's end (the span's
    attributes and its one-time finish), which happens once per stream."""
    tracer = TracerProvider().get_tracer("chunks")
    kinds: dict[str, list[ChatCompletionChunk]] = {
        "text deltas": [_chunk({"content": f"tok{i} "}) for i in range(n)],
        "tool-call argument deltas (3 parallel calls)": [
            _chunk({"tool_calls": [{"index": i % 3, "function": {"arguments": "ab"}}]})
            for i in range(n)
        ],
    }

    def bare(items: list[ChatCompletionChunk]) -> int:
        stream = _Stream(items)
        start = time.thread_time_ns()
        for _ in stream:
            pass
        return time.thread_time_ns() - start

    def proxied(items: list[ChatCompletionChunk]) -> tuple[int, int]:
        span = tracer.start_span("chat")
        proxy = SyncStreamProxy(_Stream(items), span, ChatAccumulator(lambda: None, "gpt-4o-mini"))
        start = time.thread_time_ns()
        for _ in range(len(items)):
            next(proxy)
        chunks = time.thread_time_ns() - start
        start = time.thread_time_ns()
        for _ in proxy:  # StopIteration: the proxy ends the span once
            pass
        return chunks, time.thread_time_ns() - start

    rows = [
        "| chunks | added ns per chunk (median) | p25 | p75 | the stream's end, once (µs) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, items in kinds.items():
        per_chunk: list[float] = []
        ends: list[float] = []
        for _ in range(rounds):
            chunks, end = proxied(items)
            per_chunk.append((chunks - bare(items)) / len(items))
            ends.append(end / 1000)
        q = statistics.quantiles(per_chunk, n=4)
        rows.append(
            f"| {name} | {statistics.median(per_chunk):,.0f} | {q[0]:,.0f} | {q[2]:,.0f} "
            f"| {statistics.median(ends):,.0f} |"
        )
    return rows


def main() -> str:
    chunks = bench_chunks()  # first, on a small heap: later sections leave 60k events behind
    store = InMemorySessionStore()
    handle = asm.configure(store=store, tracer_provider=TracerProvider())
    try:
        in_process = call_rows(
            "The instrumentation's own cost (wrapper around a `create` returning a recorded "
            "response)",
            *bench_wrapper(handle, store),
        )
        with LocalOpenAIServer() as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
            over_http = call_rows(
                "Over HTTP to the local server (noisier)",
                *bench_calls(client, handle, store, calls=100, repeats=21),
            )
    finally:
        handle.shutdown()
    return "\n".join(
        [
            "### Non-streaming calls",
            *in_process,
            "",
            *over_http,
            "",
            PEERS_NOTE,
            "",
            "### Stream proxy, per chunk (in-process)",
            *chunks,
        ]
    )


if __name__ == "__main__":
    print(main())
