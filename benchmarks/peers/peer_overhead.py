"""Runs inside a peer's own virtualenv (their pins conflict with ours and
with each other) and prints one JSON line of measurements.

    python peer_overhead.py PEER BASE_URL

PEER is one of: raw, otel-openai-v2, openinference, logfire, langfuse,
openllmetry. BASE_URL is the local OpenAI-compatible server the
orchestrator (benchmarks/bench_peers.py) started. Everything exports to an
in-memory exporter: nothing leaves 127.0.0.1.

Measured, each against the raw-OpenTelemetry floor in the same process:
- ``decorator``: µs per call of the peer's function decorator on a no-op;
- ``openai``: µs added per non-streaming chat.completions.create.
The method is the one in benchmarks/_timing.py (copied: this file must run
without our package installed).
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def per_call_us(
    fn: Callable[[], object], calls: int, clock: Callable[[], int] = time.perf_counter_ns
) -> float:
    gc.disable()
    try:
        start = clock()
        for _ in range(calls):
            fn()
        return (clock() - start) / calls / 1000
    finally:
        gc.enable()


def interleaved(
    variants: dict[str, Callable[[], object]],
    calls: int,
    repeats: int,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> dict[str, float]:
    """Median µs per call of each variant, in alternating blocks, by ``clock``
    (wall time; ``time.thread_time_ns``: the calling thread's CPU time)."""
    names = list(variants)
    for name in names:
        per_call_us(variants[name], max(10, calls // 10))
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            samples[name].append(per_call_us(variants[name], calls, clock))
    return {n: statistics.median(v) for n, v in samples.items()}


def raw_floor_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def setup_peer(
    peer: str,
) -> tuple[
    Callable[[Callable[[], Any]], Callable[[], Any]] | None, Callable[[bool], None], list[Any]
]:
    """(decorator or None, toggle(instrumented: bool) for the OpenAI client, keep-alive objects)."""
    keep: list[Any] = []
    if peer == "raw":
        return None, lambda on: None, keep
    if peer in ("otel-openai-v2", "openinference"):
        if peer == "otel-openai-v2":
            from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        else:
            from openinference.instrumentation.openai import OpenAIInstrumentor

        provider, exporter = raw_floor_provider()
        keep += [exporter]
        inst = OpenAIInstrumentor()

        def toggle(on: bool) -> None:
            if on and not inst.is_instrumented_by_opentelemetry:
                inst.instrument(tracer_provider=provider)
            elif not on and inst.is_instrumented_by_opentelemetry:
                inst.uninstrument()

        return None, toggle, keep
    if peer == "logfire":
        import logfire

        exporter = InMemorySpanExporter()
        logfire.configure(
            send_to_logfire=False,
            console=False,
            metrics=False,
            additional_span_processors=[SimpleSpanProcessor(exporter)],
        )
        keep += [exporter]
        state: dict[str, Any] = {}

        def toggle(on: bool) -> None:
            # instrument_openai() patches at once and returns a context
            # manager whose exit undoes it.
            if on and "cm" not in state:
                state["cm"] = logfire.instrument_openai()
                state["cm"].__enter__()
            elif not on and "cm" in state:
                state.pop("cm").__exit__(None, None, None)

        return (lambda fn: logfire.instrument("noop")(fn)), toggle, keep
    if peer == "langfuse":
        from langfuse import Langfuse, observe

        exporter = InMemorySpanExporter()
        client = Langfuse(
            public_key="pk", secret_key="sk", base_url="http://127.0.0.1:9", span_exporter=exporter
        )
        keep += [client, exporter]
        # langfuse.openai patches at import and cannot be undone: toggling is
        # done by the orchestrator choosing its drop-in client instead.
        return (lambda fn: observe()(fn)), lambda on: None, keep
    if peer == "openllmetry":
        from traceloop.sdk import Traceloop
        from traceloop.sdk.decorators import workflow

        exporter = InMemorySpanExporter()
        Traceloop.init(exporter=exporter, disable_batch=True, telemetry_enabled=False)
        keep += [exporter]
        import openai.resources.chat.completions as cc

        wrapped = cc.Completions.create
        original = getattr(wrapped, "__wrapped__", wrapped)

        def toggle(on: bool) -> None:
            cc.Completions.create = wrapped if on else original  # type: ignore[method-assign]

        return (lambda fn: workflow(name="noop")(fn)), toggle, keep
    raise SystemExit(f"unknown peer {peer!r}")


def main() -> None:
    peer, base_url = sys.argv[1], sys.argv[2]
    decorate, toggle, keep = setup_peer(peer)

    floor_provider, floor_exporter = raw_floor_provider()
    tracer = floor_provider.get_tracer("floor")

    def noop() -> None:
        return None

    def raw_span() -> None:
        with tracer.start_as_current_span("noop"):
            pass
        floor_exporter.clear()

    out: dict[str, Any] = {"peer": peer}
    variants: dict[str, Callable[[], object]] = {"bare": noop, "raw_span": raw_span}
    if decorate is not None:
        variants["decorator"] = decorate(noop)
    dec = interleaved(variants, calls=2000, repeats=9)
    out["decorator_us"] = {k: round(v, 2) for k, v in dec.items()}
    for item in keep:
        if isinstance(item, InMemorySpanExporter):
            item.clear()

    import openai

    client = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0)
    messages = [{"role": "user", "content": "Say hello"}]
    if peer == "langfuse":
        from langfuse.openai import OpenAI as LangfuseOpenAI

        traced_client = LangfuseOpenAI(base_url=base_url, api_key="test", max_retries=0)
    else:
        traced_client = client

    def bare_call() -> None:
        toggle(False)
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)

    def floor_call() -> None:
        toggle(False)
        with tracer.start_as_current_span("chat gpt-4o-mini"):
            client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        floor_exporter.clear()

    def peer_call() -> None:
        toggle(True)
        traced_client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        for item in keep:
            if isinstance(item, InMemorySpanExporter):
                item.clear()

    variants = {"bare": bare_call, "raw_span": floor_call}
    if peer != "raw":
        variants["peer"] = peer_call
    calls = interleaved(variants, calls=100, repeats=9)
    out["openai_us"] = {k: round(v, 1) for k, v in calls.items()}
    out["wrapper_us"] = measure_wrapper(toggle, tracer, floor_exporter, keep)
    print(json.dumps(out))


# A recorded chat completion, shared with benchmarks/bench_openai.py.
CANNED = json.loads(Path(__file__).with_name("chat_completion.json").read_text(encoding="utf-8"))


def measure_wrapper(
    toggle: Callable[[bool], None], tracer: Any, floor_exporter: Any, keep: list[Any]
) -> dict[str, float] | None:
    """The peer's own wrapper (the wrapt wrapper it installs on ``create``)
    around a ``create`` that returns a recorded response at once: the same
    measurement as our benchmarks/bench_openai.py ``bench_wrapper``."""
    import openai
    import openai.resources.chat.completions.completions as cc
    from openai.types.chat import ChatCompletion

    toggle(True)
    wrapper = getattr(cc.Completions.create, "_self_wrapper", None)
    if wrapper is None:
        return None  # this peer does not patch with a wrapt wrapper
    response = ChatCompletion.model_validate(CANNED)
    instance = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="t").chat.completions
    kwargs = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "What is the capital of France? Answer in one word."},
        ],
        "temperature": 0.2,
    }

    def create(**_: Any) -> Any:
        return response

    def clear() -> None:
        for item in keep:
            if isinstance(item, InMemorySpanExporter):
                item.clear()

    def bare() -> None:
        create(**kwargs)

    def floor() -> None:
        with tracer.start_as_current_span("chat gpt-4o-mini"):
            create(**kwargs)
        floor_exporter.clear()

    def peer() -> None:
        wrapper(create, instance, (), kwargs)
        clear()

    result = interleaved({"bare": bare, "raw_span": floor, "peer": peer}, calls=2000, repeats=15)
    return {k: round(v, 2) for k, v in result.items()}


if __name__ == "__main__":
    main()
