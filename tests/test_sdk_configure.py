"""configure(): attaching to providers, idempotence, OTEL_SDK_DISABLED, sampling,
concurrency and context propagation."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

import a2a_session_manager as asm
from a2a_session_manager.storage import InMemorySessionStore, SessionStoreProvider
from tests.support.otel import Recorder, clean_otel, recorder

__all__ = ["clean_otel", "recorder"]


def test_attaches_to_global_sdk_provider_and_keeps_its_processors(clean_otel: None) -> None:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    store = InMemorySessionStore()
    handle = asm.configure(store=store)
    assert handle.tracer_provider is provider
    assert trace.get_tracer_provider() is provider
    assert SessionStoreProvider.get_store() is store
    with asm.session("g"), asm.run("r"):
        pass
    assert {s.name for s in exporter.get_finished_spans()} == {"session g", "invoke_agent r"}
    assert store.get("g") is not None


def test_configure_is_idempotent(recorder: Recorder) -> None:
    processors_before = len(recorder.provider._active_span_processor._span_processors)
    second_store = InMemorySessionStore()
    again = asm.configure(store=second_store, tracer_provider=recorder.provider)
    assert again is recorder.handle
    assert len(recorder.provider._active_span_processor._span_processors) == processors_before
    with asm.session("i"), asm.run("r"):
        pass
    assert second_store.get("i") is not None
    assert recorder.store.get("i") is None


def test_creates_and_sets_global_provider_only_when_none_is_set(clean_otel: None) -> None:
    handle = asm.configure()
    assert isinstance(trace.get_tracer_provider(), TracerProvider)
    assert handle.tracer_provider is trace.get_tracer_provider()
    with asm.session("default-store"), asm.run("r"):
        pass
    assert SessionStoreProvider.get_store().get("default-store") is not None


def test_sdk_disabled_runs_user_code_and_records_nothing(
    clean_otel: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    store = InMemorySessionStore()
    handle = asm.configure(store=store)
    assert not handle.enabled

    @asm.run
    def work(x: int) -> int:
        return x * 2

    @asm.tool
    def t() -> str:
        return "ok"

    with asm.session("d") as s:
        assert work(2) == 4 and t() == "ok"
        assert asm.current_session_id() == s.id == "d"
        asm.record_event("ignored")
    assert handle.force_flush()
    assert store.list_sessions() == []


def test_unsampled_spans_are_stored_but_not_exported(clean_otel: None) -> None:
    provider = TracerProvider(sampler=ALWAYS_OFF)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store = InMemorySessionStore()
    asm.configure(store=store, tracer_provider=provider)
    with asm.session("sampled-out"), asm.run("r"):
        asm.record_event("kept")
    assert exporter.get_finished_spans() == ()
    stored = store.get("sampled-out")
    assert stored is not None and stored.events[0].message == "kept"


async def test_100_concurrent_asyncio_sessions_keep_their_events(recorder: Recorder) -> None:
    @asm.tool
    async def step(i: int) -> int:
        await asyncio.sleep(0)
        return i

    async def agent(n: int) -> None:
        async with asm.session(f"s-{n}"):
            for i in range(5):
                async with asm.run(f"run-{n}"):
                    asm.record_event(f"{n}:{i}")
                    await asyncio.sleep(0)
                    await step(n)

    await asyncio.gather(*(agent(n) for n in range(100)))
    for n in range(100):
        stored = recorder.store.get(f"s-{n}")
        assert stored is not None
        messages = [e.message for e in stored.events if e.type == "message"]
        assert messages == [f"{n}:{i}" for i in range(5)]
        tools = [e.message for e in stored.events if e.type == "tool_call"]
        assert [t["arguments"] for t in tools] == [{"i": n}] * 5
        run_ids = {r.id for r in stored.runs}
        assert len(run_ids) == 5 and {r.name for r in stored.runs} == {f"run-{n}"}
        assert all(e.task_id in run_ids for e in stored.events)


def test_8_threads_and_executor_context_helper(recorder: Recorder) -> None:
    def worker(n: int) -> None:
        with asm.session(f"th-{n}"):
            for i in range(20):
                with asm.run("r"):
                    asm.record_event(f"{n}:{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(8):
        stored = recorder.store.get(f"th-{n}")
        assert stored is not None
        assert [e.message for e in stored.events] == [f"{n}:{i}" for i in range(20)]

    def in_thread() -> str | None:
        asm.record_event("from executor")
        return asm.current_session_id()

    with asm.session("exec"), asm.run("r"), ThreadPoolExecutor(2) as pool:
        assert pool.submit(asm.wrap_context(in_thread)).result() == "exec"
        assert pool.submit(in_thread).result() is None  # plain submit: no context
    stored = recorder.store.get("exec")
    assert stored is not None
    assert [e.message for e in stored.events] == ["from executor"]


def test_inject_extract_continues_the_hierarchy(recorder: Recorder) -> None:
    headers: dict[str, str] = {}
    with asm.session("caller"):
        asm.inject(headers)
    assert "session.id=caller" in headers["baggage"]
    assert "traceparent" in headers
    remote = asm.extract(headers, context=context.Context())
    with asm.session("callee", context=remote) as s:
        assert s.parent_id == "caller"
    stored = recorder.store.get("callee")
    assert stored is not None and stored.parent_id == "caller"
    # an extracted id is a claim: linked on the callee's side only, not read
    assert stored.parent_link == "remote"
    assert recorder.store.children("caller") == []
    assert stored.ancestors(recorder.store) == []


def test_force_flush_and_shutdown(recorder: Recorder) -> None:
    tracer = recorder.provider.get_tracer("foreign")
    with asm.session("fl"), tracer.start_as_current_span("chat m") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
    assert recorder.handle.force_flush()
    recorder.handle.shutdown()
    recorder.handle.shutdown()  # twice is fine
    assert recorder.handle.stats()["dropped_spans"] == 0
