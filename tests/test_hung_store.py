"""A store that stops answering never hangs the application.

A real redis-server, SIGSTOPped: connections stay open and nothing answers,
as with a hung server or a black-holed network. Runs return (the write is
counted ``late`` and finishes in the background), nothing is lost once the
server resumes, shutdown returns, and a process exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.storage import RedisSessionStore, UnknownStoreURLError
from a2a_session_manager.storage.redis import (
    DEFAULT_SOCKET_CONNECT_TIMEOUT,
    DEFAULT_SOCKET_TIMEOUT,
)
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.timeout(240)

JOIN_TIMEOUT = 120.0


def _returns(call: Callable[[], Any]) -> bool:
    """Whether ``call()`` returns within a generous bound (it never should hang)."""
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(JOIN_TIMEOUT)
    return not thread.is_alive()


def test_runs_return_while_redis_is_stopped_and_nothing_is_lost(
    clean_otel: None, redis_server: RedisServer
) -> None:
    store = asm.create_store(redis_server.url)
    handle = asm.configure(store=store, tracer_provider=TracerProvider(), flush_deadline=0.5)
    try:
        with asm.session("hung"), asm.run("before"):
            asm.record_event("before the hang")
        redis_server.pause()

        def runs() -> None:
            with asm.session("hung"):
                for i in range(3):
                    with asm.run(f"during-{i}"):
                        asm.record_event(f"during {i}")

        assert _returns(runs)
        assert handle.stats()["late"] >= 1
        redis_server.resume()
        assert handle.force_flush(60_000)
        stored = store.get("hung")
        assert stored is not None
        assert [e.message for e in stored.events] == [
            "before the hang",
            "during 0",
            "during 1",
            "during 2",
        ]
        assert len(stored.runs) == 4
        stats = handle.stats()
        assert stats["dropped_events"] == stats["dropped_runs"] == stats["failed_items"] == 0
    finally:
        redis_server.resume()
        assert _returns(handle.shutdown)


def test_shutdown_returns_while_redis_is_stopped_and_counts_what_is_unwritten(
    clean_otel: None, redis_server: RedisServer
) -> None:
    store = asm.create_store(redis_server.url)
    handle = asm.configure(
        store=store, tracer_provider=TracerProvider(), flush_deadline=0.2, shutdown_timeout=1
    )
    try:
        store.exists("warm")  # a pooled connection, open when the server stops
        redis_server.pause()
        with asm.session("never-written"), asm.run("r"):
            asm.record_event("stuck")
        assert _returns(handle.shutdown)
        stats = handle.stats()
        assert stats["late"] == 2  # the run and the session: neither waited past the deadline
        assert stats["unwritten_at_shutdown"] >= 1
    finally:
        redis_server.resume()


def test_a_process_exits_while_its_redis_is_stopped(redis_server: RedisServer) -> None:
    script = textwrap.dedent(
        f"""
        import a2a_session_manager as asm
        from opentelemetry.sdk.trace import TracerProvider

        store = asm.create_store({redis_server.url!r})
        store.exists("warm")
        asm.configure(store=store, tracer_provider=TracerProvider(),
                      flush_deadline=1, shutdown_timeout=2)
        print("configured", flush=True)
        input()  # the test stops the server now
        for i in range(5):
            with asm.session("exiting"), asm.run("r"):
                asm.record_event(i)
        print("recorded", flush=True)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline() == b"configured\n"
        redis_server.pause()
        out, err = child.communicate(b"\n", timeout=JOIN_TIMEOUT)
        assert child.returncode == 0, err.decode()
        assert out == b"recorded\n"
    finally:
        child.kill()
        redis_server.resume()


def test_every_redis_client_we_create_has_finite_timeouts(redis_url: str) -> None:
    stores = [
        asm.create_store(redis_url),
        RedisSessionStore.from_url(redis_url),
        RedisSessionStore.from_url(redis_url, socket_timeout=None),
        asm.create_redis_session_store(port=1, socket_timeout=None, socket_connect_timeout=None),
    ]
    for store in stores:
        assert isinstance(store, RedisSessionStore)
        kwargs = store.client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == DEFAULT_SOCKET_TIMEOUT
        assert kwargs["socket_connect_timeout"] == DEFAULT_SOCKET_CONNECT_TIMEOUT
    # A user's own values are kept, from the URL or from arguments.
    explicit = [
        asm.create_store(f"{redis_url}?socket_timeout=1.5&socket_connect_timeout=0.5"),
        RedisSessionStore.from_url(f"{redis_url}?socket_timeout=1.5&socket_connect_timeout=0.5"),
        RedisSessionStore.from_url(redis_url, socket_timeout=1.5, socket_connect_timeout=0.5),
    ]
    for store in explicit:
        assert isinstance(store, RedisSessionStore)
        kwargs = store.client.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (1.5, 0.5)
    with pytest.raises(UnknownStoreURLError):
        asm.create_store(f"{redis_url}?socket_timeout=0")


def test_a_fork_while_the_writer_is_stuck_neither_waits_nor_hangs(
    clean_otel: None, redis_server: RedisServer
) -> None:
    store = asm.create_store(redis_server.url)
    handle = asm.configure(store=store, tracer_provider=TracerProvider(), flush_deadline=0.2)
    try:
        store.exists("warm")
        redis_server.pause()
        with asm.session("parent"), asm.run("r"):
            asm.record_event("stuck in the parent")
        assert handle.stats()["late"] >= 1  # the parent's writer is inside a store call
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                with asm.session("child"), asm.run("r"):  # fresh writer; returns late
                    asm.record_event("child")
                code = 0 if handle.stats()["late"] == 2 else 3  # its own counts: run, session
            finally:
                os._exit(code)
        deadline = time.monotonic() + JOIN_TIMEOUT
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        assert os.waitstatus_to_exitcode(status) == 0
        redis_server.resume()
        assert handle.force_flush(60_000)
        stored = store.get("parent")
        assert stored is not None
        assert [e.message for e in stored.events] == ["stuck in the parent"]
    finally:
        redis_server.resume()
        assert _returns(handle.shutdown)
