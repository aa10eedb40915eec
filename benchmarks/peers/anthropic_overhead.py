"""Runs inside one peer's virtualenv (or ours) and prints one JSON line: the
peer's Anthropic wrapper alone around an instant ``Messages.create``, as
benchmarks/bench_anthropic.py times ours.

    python anthropic_overhead.py PEER

PEER is one of: ours, otel-anthropic, openinference, logfire, openllmetry.
Everything exports to an in-memory exporter, with each peer's defaults.

- ``wrapper_us``: the wrapper around a ``create`` returning a recorded
  ``Message`` at once, next to a raw span around the same (the floor) and
  the bare call, interleaved in blocks (µs per call, medians), by three
  clocks: wall time; the calling thread's CPU time (steadier on a loaded
  machine, but it leaves out what a wrapper hands to another thread, as ours
  does with the session write); the whole process's CPU time, with that
  deferred work waited for inside the wrapper's own blocks.
- ``event_ns``: what the wrapper's stream adds per event (thread CPU), over
  pre-built ``RawMessageStreamEvent`` objects, the stream's start and end
  left out.

Logfire patches the client's ``request`` method rather than ``create``: its
wrapper is timed around an instant ``request`` given the options the client
built for the same call. This file runs without our package installed (the
timing helpers come from peer_overhead.py beside it).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message, RawMessageStreamEvent
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from peer_overhead import interleaved, raw_floor_provider
from pydantic import TypeAdapter

# The distribution each peer's Anthropic wrapper comes from.
DISTRIBUTIONS = {
    "otel-anthropic": "opentelemetry-instrumentation-genai-anthropic",
    "openinference": "openinference-instrumentation-anthropic",
    "logfire": "logfire",
    "openllmetry": "opentelemetry-instrumentation-anthropic",
}
MODEL = "claude-sonnet-4-5"
# The same request and recorded response as benchmarks/bench_anthropic.py.
_RECORDED = json.loads(Path(__file__).with_name("anthropic_message.json").read_text("utf-8"))
KWARGS: dict[str, Any] = _RECORDED["request"]
CANNED: dict[str, Any] = _RECORDED["response"]


class RecordedStream(anthropic.Stream[Any]):
    """A real ``anthropic.Stream`` (peers check its class) over pre-built events."""

    def __init__(self, items: list[Any]) -> None:
        self.response = httpx2.Response(200, request=httpx2.Request("POST", "http://127.0.0.1:9"))
        self._items = items

    def __stream__(self) -> Any:
        yield from self._items

    def close(self) -> None:
        pass


class Harness:
    """``bare(stream)``: the instant call; ``traced(stream)``: the peer's wrapper
    around it; both return a ``Message`` or a ``RecordedStream`` over ``items``."""

    def __init__(self) -> None:
        self.message = Message.model_validate(CANNED)
        self.items: list[Any] = []
        self.exporters: list[InMemorySpanExporter] = []
        self.keep: list[Any] = []
        self.bare: Callable[[bool], Any] = lambda stream: None
        self.traced: Callable[[bool], Any] = lambda stream: None
        # Ours writes to a session store, not an exporter: events it holds at the end.
        self.recorded: Callable[[], int | None] = lambda: None
        # Waits for what the wrapper hands to other threads (ours: the session write).
        self.settle: Callable[[], object] = lambda: None
        # Every 100 calls (ours: a new session).
        self.rotate: Callable[[], object] = lambda: None

    def instant(self, **kwargs: Any) -> Any:
        return RecordedStream(self.items) if kwargs.get("stream") else self.message

    def clear(self) -> None:
        for exporter in self.exporters:
            exporter.clear()

    def wrap_create(self) -> None:
        """Time the wrapt wrapper the peer installed on ``Messages.create``."""
        from anthropic.resources.messages import Messages

        wrapper = Messages.create._self_wrapper  # type: ignore[attr-defined]
        instance = anthropic.Anthropic(base_url="http://127.0.0.1:9", api_key="test").messages
        instant = self.instant
        plain, streamed = dict(KWARGS), {**KWARGS, "stream": True}

        def bare(stream: bool) -> Any:
            return instant(**(streamed if stream else plain))

        def traced(stream: bool) -> Any:
            # A fresh dict per call: some wrappers replace entries to capture content.
            return wrapper(instant, instance, (), dict(streamed if stream else plain))

        self.bare, self.traced = bare, traced


def setup(peer: str) -> Harness:
    h = Harness()
    if peer == "ours":
        from opentelemetry.sdk.trace import TracerProvider

        import a2a_session_manager as asm
        from a2a_session_manager.storage import InMemorySessionStore

        store = InMemorySessionStore()
        handle = asm.configure(
            store=store,
            tracer_provider=TracerProvider(),
            instrument=("anthropic",),
        )
        # Calls inside a session, so every one is recorded, as in bench_anthropic;
        # a new session every 100 calls (500 events): one session of all the
        # calls would grow past 100,000 events, which no conversation reaches.
        opened: list[Any] = []

        def rotate() -> None:
            if opened:
                opened[-1].__exit__(None, None, None)
            opened.append(asm.session(f"bench-anthropic-{len(opened)}"))
            opened[-1].__enter__()

        def recorded() -> int:
            handle.force_flush()
            found = (store.get(f"bench-anthropic-{i}") for i in range(len(opened)))
            return sum(len(s.events) for s in found if s is not None)

        rotate()
        h.keep.append(handle)
        h.rotate, h.recorded, h.settle = rotate, recorded, handle.force_flush
        h.wrap_create()
        return h
    if peer in ("otel-anthropic", "openinference"):
        if peer == "otel-anthropic":
            from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor
        else:
            from openinference.instrumentation.anthropic import AnthropicInstrumentor
        provider, exporter = raw_floor_provider()
        AnthropicInstrumentor().instrument(tracer_provider=provider)
        h.exporters.append(exporter)
        h.wrap_create()
        return h
    if peer == "openllmetry":
        from traceloop.sdk import Traceloop

        exporter = InMemorySpanExporter()
        Traceloop.init(exporter=exporter, disable_batch=True, telemetry_enabled=False)
        h.exporters.append(exporter)
        h.wrap_create()
        return h
    if peer == "logfire":
        return setup_logfire(h)
    raise SystemExit(f"unknown peer {peer!r}")


def setup_logfire(h: Harness) -> Harness:
    import logfire
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    exporter = InMemorySpanExporter()
    logfire.configure(
        send_to_logfire=False,
        console=False,
        metrics=False,
        additional_span_processors=[SimpleSpanProcessor(exporter)],
    )
    h.exporters.append(exporter)
    client = anthropic.Anthropic(base_url="http://127.0.0.1:9", api_key="test")
    calls: dict[bool, tuple[tuple[Any, ...], dict[str, Any]]] = {}

    def capture(*args: Any, **kwargs: Any) -> Any:
        calls[bool(kwargs.get("stream"))] = (args, kwargs)
        return h.instant(stream=False)

    # The options the client builds for this call, captured once.
    client.request = capture  # type: ignore[method-assign]
    client.messages.create(**KWARGS)
    client.messages.create(**KWARGS, stream=True)
    streamed_args, streamed_kwargs = calls[True]
    calls[True] = (streamed_args, {**streamed_kwargs, "stream_cls": RecordedStream})

    def request(cast_to: Any, options: Any, *, stream: bool = False, stream_cls: Any = None) -> Any:
        # As the client's request does: a stream of the class it is given.
        return stream_cls(h.items) if stream else h.message

    client.request = request  # type: ignore[method-assign]
    manager = logfire.instrument_anthropic(client)
    h.keep += [manager, client]  # dropping the manager would uninstrument
    traced_request = client.request

    def bare(stream: bool) -> Any:
        args, kwargs = calls[stream]
        return request(*args, **kwargs)

    def traced(stream: bool) -> Any:
        args, kwargs = calls[stream]
        return traced_request(*args, **kwargs)

    h.bare, h.traced = bare, traced
    return h


CLOCKS = {
    "wall": time.perf_counter_ns,
    "cpu": time.thread_time_ns,  # the calling thread only
    "process": time.process_time_ns,  # every thread: what a wrapper defers counts too
}


def measure_wrapper(h: Harness) -> dict[str, dict[str, float]]:
    provider, floor_exporter = raw_floor_provider()
    tracer = provider.get_tracer("floor")
    bare, traced, clear, settle, rotate = h.bare, h.traced, h.clear, h.settle, h.rotate
    done = [0]

    def plain() -> None:
        bare(False)

    def floor() -> None:
        with tracer.start_as_current_span(f"chat {MODEL}"):
            bare(False)
        floor_exporter.clear()

    def peer() -> None:
        traced(False)
        clear()
        done[0] += 1
        if done[0] % 100 == 0:
            rotate()

    def peer_settled() -> None:
        # For the process clock: what the wrapper left to other threads is
        # done inside its own block (every block is a multiple of 100 calls).
        peer()
        if done[0] % 100 == 0:
            settle()

    out = {}
    for name, clock in CLOCKS.items():
        variants = {"bare": plain, "raw_span": floor, "peer": peer_settled}
        if name != "process":
            variants["peer"] = peer
        result = interleaved(variants, calls=1000, repeats=11, clock=clock)
        out[name] = {k: round(v, 2) for k, v in result.items()}
    return out


def delta(kind: str, i: int, n: int) -> dict[str, Any]:
    if kind == "text deltas":
        return {"type": "text_delta", "text": f"tok{i} "}
    # Tool arguments that parse once joined: '{"c": "abab…ab"}'.
    piece = '{"c": "' if i == 0 else '"}' if i == n - 1 else "ab"
    return {"type": "input_json_delta", "partial_json": piece}


OPENING = {
    "text deltas": {"type": "text", "text": ""},
    "input_json deltas": {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}},
}


def stream_events(n: int) -> dict[str, tuple[list[Any], list[Any], list[Any]]]:
    """(head, n deltas, tail) per kind of event, as bench_anthropic builds them."""
    adapter: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)

    def events(raw: list[dict[str, Any]]) -> list[Any]:
        return [adapter.validate_python(e) for e in raw]

    start = {"type": "message_start", "message": {**CANNED, "content": [], "stop_reason": None}}
    tail = events(
        [
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": n},
            },
            {"type": "message_stop"},
        ]
    )
    return {
        kind: (
            events([start, {"type": "content_block_start", "index": 0, "content_block": opening}]),
            events(
                [
                    {"type": "content_block_delta", "index": 0, "delta": delta(kind, i, n)}
                    for i in range(n)
                ]
            ),
            tail,
        )
        for kind, opening in OPENING.items()
    }


def measure_events(h: Harness, n: int = 1000, rounds: int = 60) -> dict[str, float]:
    """Median ns the peer's stream adds per event (the caller thread's CPU)."""
    out: dict[str, float] = {}
    for name, (head, deltas, tail) in stream_events(n).items():
        per_event: list[float] = []
        for _ in range(rounds):
            h.items = head + deltas + tail
            stream = h.traced(True)
            events = iter(stream)
            for _ in head:
                next(events)
            began = time.thread_time_ns()
            for _ in range(n):
                next(events)
            proxied = time.thread_time_ns() - began
            for _ in events:  # the end: spans finish here, untimed
                pass
            getattr(stream, "close", lambda: None)()
            h.clear()
            h.items = deltas
            bare = iter(h.bare(True))
            began = time.thread_time_ns()
            for _ in range(n):
                next(bare)
            plain = time.thread_time_ns() - began
            per_event.append((proxied - plain) / n)
        out[name] = round(statistics.median(per_event), 1)
    return out


def main() -> None:
    peer = sys.argv[1]
    h = setup(peer)
    out: dict[str, Any] = {"peer": peer, "anthropic": anthropic.__version__}
    if peer in DISTRIBUTIONS:
        out["version"] = version(DISTRIBUTIONS[peer])
    # A check that the wrapper records: the spans one call exports.
    h.clear()
    h.traced(False)
    out["spans_per_call"] = sum(len(e.get_finished_spans()) for e in h.exporters)
    h.clear()
    out["wrapper_us"] = measure_wrapper(h)
    out["event_ns"] = measure_events(h)
    out["session_events"] = h.recorded()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
