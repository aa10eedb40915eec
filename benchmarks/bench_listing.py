"""Finding sessions (issue 14): the first page of ``list_page`` and of a
filtered ``query``, and the next page after a cursor, as the store grows, on
every store; appends on a Redis Cluster next to one Redis in the same run.

Run: python -m benchmarks.bench_listing   (A2A_BENCH_SIZES=1000,10000,100000
chooses the session counts; the file store stops at 100,000)
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.storage import (
    BaseSessionStore,
    InMemorySessionStore,
    SessionChanges,
    create_store,
)
from benchmarks._services import redis_server
from benchmarks._timing import median_ms

SIZES = tuple(int(n) for n in os.environ.get("A2A_BENCH_SIZES", "1000,10000,100000").split(","))
T0 = datetime(2025, 1, 1, tzinfo=UTC)
USERS = 1000  # a user owns 1 session in 1,000: the filtered query is selective


def _grow(store: BaseSessionStore, start: int, stop: int) -> None:
    for n in range(start, stop):
        store.apply(
            SessionChanges(
                session_id=f"s{n:07d}",
                metadata=SessionMetadata(
                    created_at=T0,
                    updated_at=T0 + timedelta(seconds=n),
                    properties={"user": f"u{n % USERS}"},
                ),
            )
        )


def _page_costs(store: BaseSessionStore) -> tuple[float, float, float, float]:
    first = store.list_page(limit=100)
    found = store.query(user="u7", limit=20)
    return (
        median_ms(lambda: store.list_page(limit=100), 9),
        median_ms(lambda: store.list_page(limit=100, cursor=first.next_cursor), 9),
        median_ms(lambda: store.query(user="u7", limit=20), 9),
        median_ms(lambda: store.query(user="u7", limit=20, cursor=found.next_cursor), 9),
    )


@contextmanager
def _stores(redis_url: str) -> Iterator[dict[str, Callable[[], Any]]]:
    directory = Path(tempfile.mkdtemp(prefix="a2a-listing-"))
    try:
        yield {
            "memory": InMemorySessionStore,
            "file": lambda: create_store(f"file://{directory}"),
            "redis": lambda: create_store(redis_url),
        }
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def bench_pages() -> list[str]:
    rows = [
        "| store | sessions | first page of 100 ids (ms) | next page (ms) "
        "| query user=…, 20 newest (ms) | its next page (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    with redis_server() as url, _stores(url) as makers:
        for name, make in makers.items():
            store = make()
            grown = 0
            for size in SIZES:
                if name == "file" and size > 100_000:
                    continue
                _grow(store, grown, size)
                grown = size
                reader = make() if name != "memory" else store  # another process's view
                reader.list_page(limit=1)  # the file store's reader folds its index once
                costs = _page_costs(reader)
                rows.append(
                    f"| {name} | {size:,} | " + " | ".join(f"{c:.2f}" for c in costs) + " |"
                )
    return rows


def bench_cluster_appends() -> list[str]:
    from tests.support.redis_cluster import RedisCluster

    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if not server or not cli:
        return ["(cluster not measured: redis-server / redis-cli missing)"]
    rows = ["| store | appends of 1 event per second |", "|---|---:|"]
    with tempfile.TemporaryDirectory() as tmp, redis_server() as url:
        cluster = RedisCluster(server, cli, Path(tmp))
        cluster.start()
        try:
            for name, store_url in (("one Redis", url), ("Redis Cluster (3 masters)", cluster.url)):
                store = create_store(store_url)
                count = 2000
                start = time.perf_counter()
                for n in range(count):
                    store.apply(
                        SessionChanges(
                            session_id=f"s{n % 50}", events=[SessionEvent(message=str(n))]
                        )
                    )
                rate = count / (time.perf_counter() - start)
                rows.append(f"| {name} | {rate:,.0f} |")
                store.close()
        finally:
            cluster.stop()
    return rows


def main() -> str:
    return "\n".join(
        [
            "### Pages and queries as the store grows",
            *bench_pages(),
            "",
            "### Appends: Redis Cluster next to one Redis",
            *bench_cluster_appends(),
        ]
    )


if __name__ == "__main__":
    print(main())
