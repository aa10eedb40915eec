"""Runs inside a virtualenv holding the original a2a-session-manager 0.1.3
(same distribution name as ours) and prints one JSON line: its file store's
append cost against session size and its cold read of 10,000 events.

    python seed_storage.py
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.token_usage import TokenUsage
from a2a_session_manager.storage import create_file_session_store


def event(i: int) -> SessionEvent:
    """The same events as benchmarks/bench_storage.py ``_event``."""
    if i % 2:
        return SessionEvent(
            message=f"assistant reply number {i}: the weather in Paris is mild today.",
            source=EventSource.LLM,
            token_usage=TokenUsage(prompt_tokens=120, completion_tokens=14, model="gpt-4o-mini"),
        )
    return SessionEvent(
        message=f"user question number {i}: what is the weather?", source=EventSource.USER
    )


def main() -> None:
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = create_file_session_store(directory=tmp)
        appends = {}
        for size in (10, 1_000, 10_000):
            session = Session()
            session.events.extend(event(i) for i in range(size))
            store.save(session)
            times = []
            for _ in range(20):
                session.add_event(SessionEvent(message="one more event", source=EventSource.USER))
                start = time.perf_counter_ns()
                store.save(session)
                times.append((time.perf_counter_ns() - start) / 1000)
            appends[size] = statistics.median(times)
            if size == 10_000:
                sid = session.id
        out["append_us"] = appends
        cold = []
        for _ in range(7):
            start = time.perf_counter_ns()
            loaded = create_file_session_store(directory=tmp).get(sid)
            cold.append((time.perf_counter_ns() - start) / 1e6)
            assert loaded is not None and len(loaded.events) >= 10_000
        out["cold_get_ms"] = statistics.median(cold)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
