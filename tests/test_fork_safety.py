"""Forked children record everything they record, once, and never hang.

Real forks while the parent's exporter is busy writing into a real file
store and a real redis-server; real ``multiprocessing`` children (fork,
forkserver, spawn; ``Process``, ``Pool``, ``ProcessPoolExecutor``) recording
in a session the parent has open and exiting the way ``multiprocessing``
makes them exit (``os._exit``, no ``atexit``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.storage import InMemorySessionStore, SessionStore
from tests.support.recording_children import child_messages, record_in_open_session
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.timeout(300)

CHILDREN = 40
CHILD_JOIN_TIMEOUT = 120.0


def _wait_all(pids: list[int], timeout: float) -> dict[int, int]:
    """Exit codes of ``pids``; any child still running after ``timeout`` is
    killed and reported as hung (-1)."""
    codes: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    while len(codes) < len(pids) and time.monotonic() < deadline:
        for pid in pids:
            if pid in codes:
                continue
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                codes[pid] = os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    for pid in pids:
        if pid not in codes:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            codes[pid] = -1
    return codes


def _fork_child(n: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        with asm.session(f"child-{n}"):
            for i in range(3):
                with asm.run("child-run"):
                    for j in range(10):
                        asm.record_event(f"child {n} event {i * 10 + j}")
        code = 0
    finally:
        os._exit(code)  # as pre-fork servers and multiprocessing do: no atexit


def _store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> SessionStore:
    if kind == "file":
        return asm.create_store(f"file://{tmp_path / 'sessions'}")
    server: RedisServer = request.getfixturevalue("redis_server")
    return asm.create_store(server.url)


@pytest.mark.parametrize("store_kind", ["file", "redis"])
def test_forty_forks_under_load_neither_hang_nor_duplicate(
    clean_otel: None, tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    store = _store(store_kind, tmp_path, request)
    handle = asm.configure(store=store, tracer_provider=TracerProvider(), schedule_delay=0.005)
    stop = threading.Event()
    parent_messages: list[str] = []

    def parent_load() -> None:  # keeps the exporter thread writing while we fork
        with asm.session("parent"):
            i = 0
            while not stop.is_set():
                with asm.run("parent-run"):
                    for _ in range(5):
                        message = f"parent event {i}"
                        asm.record_event(message)
                        parent_messages.append(message)
                        i += 1

    loader = threading.Thread(target=parent_load)
    loader.start()
    try:
        time.sleep(0.2)
        pids = [_fork_child(n) for n in range(CHILDREN)]
        codes = _wait_all(pids, CHILD_JOIN_TIMEOUT)
    finally:
        stop.set()
        loader.join(60)
    assert not loader.is_alive()
    assert sorted(codes.values()) == [0] * CHILDREN  # none hung (-1), none failed
    assert handle.force_flush()

    parent = store.get("parent")
    assert parent is not None
    assert [e.message for e in parent.events] == parent_messages  # each once, in order
    for n in range(CHILDREN):
        child = store.get(f"child-{n}")
        assert child is not None, n
        assert [e.message for e in child.events] == [f"child {n} event {k}" for k in range(30)], n
        assert len(child.runs) == 3
    if store_kind == "file":
        # Nothing of the parent's queue was written again by a child.
        log = b"".join(p.read_bytes() for p in (tmp_path / "sessions").iterdir())
        written = Counter(m for m in parent_messages if log.count(f'"{m}"'.encode()) != 1)
        assert not written
    handle.shutdown()


def _in_child(method: str, kind: str, store_url: str, tags: list[str]) -> None:
    ctx = multiprocessing.get_context(method)
    if kind == "Process":
        processes = [
            ctx.Process(target=record_in_open_session, args=(store_url, "shared", tag))
            for tag in tags
        ]
        for p in processes:
            p.start()
        for p in processes:
            p.join(CHILD_JOIN_TIMEOUT)
        hung = [p for p in processes if p.is_alive()]
        for p in hung:
            p.kill()
        assert not hung
        assert [p.exitcode for p in processes] == [0] * len(processes)
    elif kind == "Pool":
        pool = ctx.Pool(2)
        try:
            result = pool.starmap_async(
                record_in_open_session, [(store_url, "shared", tag) for tag in tags]
            )
            assert sorted(result.get(CHILD_JOIN_TIMEOUT)) == sorted(tags)
            pool.close()  # workers return and exit through multiprocessing's finalizers
            pool.join()
        finally:
            pool.terminate()
    else:
        with ProcessPoolExecutor(2, mp_context=ctx) as executor:
            futures = [
                executor.submit(record_in_open_session, store_url, "shared", tag) for tag in tags
            ]
            assert sorted(f.result(CHILD_JOIN_TIMEOUT) for f in futures) == sorted(tags)


@pytest.mark.parametrize("kind", ["Process", "Pool", "ProcessPoolExecutor"])
@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_multiprocessing_children_record_in_the_open_session(
    clean_otel: None, tmp_path: Path, method: str, kind: str
) -> None:
    store_url = f"file://{tmp_path / 'sessions'}"
    store = asm.create_store(store_url)
    handle = asm.configure(store=store, tracer_provider=TracerProvider())
    tags = [f"{method}-{kind}-{n}" for n in range(3)]
    with asm.session("shared"):
        asm.record_event("parent before")
        _in_child(method, kind, store_url, tags)
        asm.record_event("parent after")
    shared = store.get("shared")
    assert shared is not None
    messages = Counter(e.message for e in shared.events)
    expected = Counter(["parent before", "parent after"])
    for tag in tags:
        expected.update(child_messages(tag))
    assert messages == expected  # every child event once, no parent event twice
    assert handle.stats()["dropped_events"] == 0
    handle.shutdown()


def test_forks_while_threads_read_the_memory_store(clean_otel: None) -> None:
    store = InMemorySessionStore()
    handle = asm.configure(store=store, tracer_provider=TracerProvider())
    with asm.session("read-hard"):
        for i in range(200):
            asm.record_event(f"event {i}")
    stop = threading.Event()

    def read() -> None:  # holds the store's lock most of the time
        while not stop.is_set():
            store.get("read-hard")
            store.list_sessions()

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    pids = []
    try:
        for _ in range(CHILDREN):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    with asm.session("in-child"), asm.run("r"):
                        asm.record_event("child")
                    child = store.get("in-child")
                    code = 0 if child is not None and len(child.events) == 1 else 2
                finally:
                    os._exit(code)
            pids.append(pid)
        codes = _wait_all(pids, CHILD_JOIN_TIMEOUT)
    finally:
        stop.set()
        for reader in readers:
            reader.join(60)
    assert sorted(codes.values()) == [0] * CHILDREN  # none hung on a lock a reader held
    handle.shutdown()
