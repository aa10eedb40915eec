"""Timing helpers shared by the benchmarks.

Machines here are shared and noisy, so every comparison is measured the way
that held up: variants interleaved in blocks inside one process, the order
flipped every repeat, and the median taken over repeats.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def per_call_us(
    fn: Callable[[], object], calls: int, clock: Callable[[], int] = time.perf_counter_ns
) -> float:
    """Mean µs per call of ``fn`` over ``calls`` calls (gc paused), by ``clock``
    (wall time; ``time.thread_time_ns``: the calling thread's CPU time)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        for _ in range(calls):
            fn()
        return (clock() - start) / calls / 1000
    finally:
        if gc_was_enabled:
            gc.enable()


def interleaved(
    variants: dict[str, Callable[[], object]],
    *,
    calls: int,
    repeats: int,
    warmup: int = 200,
    clock: Callable[[], int] = time.perf_counter_ns,
    before_block: Callable[[str], object] | None = None,
) -> dict[str, float]:
    """Median µs per call of each variant, measured in alternating blocks.

    ``before_block(name)`` runs, untimed, before each block of variant
    ``name``: set-up that must not be charged to the block's first call
    (instrumenting a client, draining a background writer)."""
    names = list(variants)
    for name in names:
        if before_block is not None:
            before_block(name)
        per_call_us(variants[name], warmup)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        order: Sequence[str] = names if repeat % 2 == 0 else list(reversed(names))
        for name in order:
            if before_block is not None:
                before_block(name)
            samples[name].append(per_call_us(variants[name], calls, clock))
    return {name: statistics.median(values) for name, values in samples.items()}


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in ms over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(times)


def raw_span_around(name: str, call: Callable[[], object]) -> Callable[[], None]:
    """``call`` inside a raw OpenTelemetry span (a provider of its own, with
    an in-memory exporter emptied now and then): the floor the benchmarks
    compare an instrumentation with."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("floor")
    finished = 0

    def floor() -> None:
        nonlocal finished
        with tracer.start_as_current_span(name):
            call()
        finished += 1
        if finished >= 10_000:
            exporter.clear()
            finished = 0

    return floor
