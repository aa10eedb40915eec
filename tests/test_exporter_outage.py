"""A store outage loses nothing within the retry buffer; beyond it, drops are counted.
Real stores: a real redis-server stopped and restarted mid-run, and the file store."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.storage import RedisSessionStore, create_file_session_store
from tests.support.otel import clean_otel
from tests.support.redis_server import RedisServer

__all__ = ["clean_otel"]


def test_redis_restart_mid_run_loses_nothing(
    clean_otel: None, redis_server: RedisServer, redis_url: str
) -> None:
    store = RedisSessionStore.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    provider = TracerProvider()
    handle = asm.configure(store=store, tracer_provider=provider)
    try:
        with asm.session("outage"):
            with asm.run("before"):
                asm.record_event("before")
            redis_server.stop()
            for i in range(20):
                with asm.run(f"during-{i}"):
                    asm.record_event(f"during {i}")  # never raises into this code
            assert handle.stats()["buffered_items"] > 0
            redis_server.start()
        assert handle.force_flush()
        stored = store.get("outage")
        assert stored is not None
        # The test server keeps nothing across a restart ("before" went with it);
        # everything recorded while it was down was buffered and written after.
        assert [e.message for e in stored.events] == [f"during {i}" for i in range(20)]
        assert len(stored.runs) == 20
        stats = handle.stats()
        assert stats["dropped_events"] == stats["dropped_runs"] == 0
    finally:
        handle.shutdown()
        store.close()


def test_buffer_overflow_is_counted_not_silent(
    clean_otel: None, redis_server: RedisServer, redis_url: str
) -> None:
    store = RedisSessionStore.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    handle = asm.configure(store=store, tracer_provider=TracerProvider(), max_buffered_items=10)
    try:
        redis_server.stop()
        for n in range(5):
            with asm.session(f"s-{n}"), asm.run("r"):
                for i in range(3):
                    asm.record_event(i)
        redis_server.start()
        handle.force_flush()
        stats = handle.stats()
        assert stats["dropped_events"] > 0
        kept = [s for s in (store.get(f"s-{n}") for n in range(5)) if s is not None]
        stored_events = sum(len(s.events) for s in kept)
        assert stored_events + stats["dropped_events"] == 15
    finally:
        handle.shutdown()
        store.close()


def test_file_store_end_to_end(clean_otel: None, tmp_path: Path) -> None:
    store = create_file_session_store(str(tmp_path))
    handle = asm.configure(store=store, tracer_provider=TracerProvider())
    try:

        @asm.tool
        def echo(x: str) -> str:
            return x

        with asm.session("../escape"), asm.run("r"):
            echo("hi")
        stored = store.get("../escape")
        assert stored is not None
        assert stored.events[0].message["result"] == "hi"
        assert all(p.is_relative_to(tmp_path) for p in tmp_path.rglob("*"))
    finally:
        handle.shutdown()
