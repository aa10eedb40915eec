"""Store benchmarks (issue 3): append cost against session size, cold reads,
prompt building on a long session, and token counting against raw tiktoken.

Run: python -m benchmarks.bench_storage   (writes its table to stdout as Markdown;
``... bench_storage cold``: the cold-read table alone)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from a2a_session_manager.models import EventSource, Session, SessionEvent, TokenUsage
from a2a_session_manager.storage import (
    InMemorySessionStore,
    SessionChanges,
    SessionStore,
    create_file_session_store,
    create_redis_session_store,
)
from a2a_session_manager.storage.serialization import (
    events_from_json_lines,
    gc_paused,
    to_json,
)
from benchmarks._services import redis_server
from benchmarks._timing import interleaved, median_ms

SIZES = (10, 1_000, 10_000)


def _event(i: int) -> SessionEvent:
    if i % 2:
        return SessionEvent(
            message=f"assistant reply number {i}: the weather in Paris is mild today.",
            source=EventSource.LLM,
            token_usage=TokenUsage(prompt_tokens=120, completion_tokens=14, model="gpt-4o-mini"),
        )
    return SessionEvent(
        message=f"user question number {i}: what is the weather?", source=EventSource.USER
    )


def _fill(store: SessionStore, session_id: str, n: int) -> None:
    events = [_event(i) for i in range(n)]
    for start in range(0, n, 1000):
        store.apply(SessionChanges(session_id=session_id, events=events[start : start + 1000]))


@contextmanager
def _stores() -> Iterator[dict[str, Callable[[], SessionStore]]]:
    with tempfile.TemporaryDirectory() as tmp, redis_server() as url:
        directory = Path(tmp)
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        yield {
            "memory": InMemorySessionStore,
            "file": lambda: create_file_session_store(directory=directory),
            "redis": lambda: create_redis_session_store(host="127.0.0.1", port=port),
        }


def bench_appends(makers: dict[str, Callable[[], SessionStore]]) -> list[str]:
    rows = [
        "| store | events already in session | append 1 event + save (µs) | vs 10-event |",
        "|---|---:|---:|---:|",
    ]
    for name, make in makers.items():
        store = make()
        base = None
        for size in SIZES:
            sid = f"append-{name}-{size}"
            _fill(store, sid, size)
            loaded = store.get(sid)
            assert loaded is not None

            def append(loaded: Session = loaded, store: SessionStore = store) -> None:
                loaded.add_event(SessionEvent(message="one more event", source=EventSource.USER))
                store.save(loaded)

            us = interleaved({"append": append}, calls=200, repeats=5, warmup=20)["append"]
            base = base or us
            rows.append(f"| {name} | {size:,} | {us:,.0f} | {us / base:.2f}× |")
    return rows


def _cpu_and_wall_ms(fn: Callable[[], object]) -> tuple[float, float]:
    """One call's CPU time in the calling thread and its wall time, in ms."""
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    fn()
    return (time.thread_time_ns() - cpu) / 1e6, (time.perf_counter_ns() - wall) / 1e6


def bench_cold_get(makers: dict[str, Callable[[], SessionStore]], repeats: int = 21) -> list[str]:
    """Cold reads next to their floor, interleaved in one loop (the machine is
    shared: only ratios measured side by side hold), the garbage collector on
    as in an application. The clock is the reading thread's CPU time (a Redis
    reply is waited for, not computed); wall time is shown beside it."""
    events = [_event(i) for i in range(10_000)]
    lines = [to_json(e) for e in events]
    joined = ("[" + ",".join(lines) + "]").encode()
    megabytes = sum(len(line) for line in lines) / 1e6

    def parse_only() -> None:
        for line in lines:
            json.loads(line)

    def validation_only() -> None:
        # pydantic-core on the joined events, the models freed at once (the
        # collector paused throughout: no pass over them is ever due).
        with gc_paused():
            assert len(events_from_json_lines([joined[1:-1]])) == 10_000

    def models_only() -> None:
        # What no store can go below while returning validated models: the
        # validation, the collector's pass over the new models, freeing them.
        with gc_paused():
            models = events_from_json_lines([joined[1:-1]])
        assert set() is not models  # the collector's pass, as after a read (see cold)

    variants: dict[str, Callable[[], None]] = {
        "floor": parse_only,
        "validation": validation_only,
        "models": models_only,
    }
    for name, make in makers.items():
        if name == "memory":
            continue  # a new memory store is empty: no cold read exists
        sid = f"cold-{name}"
        _fill(make(), sid, 10_000)

        def cold(make: Callable[[], SessionStore] = make, sid: str = sid) -> None:
            session = make().get(sid)
            assert session is not None and len(session.events) == 10_000
            # The collector's pass over the new models belongs to the read: in
            # an application that keeps the session, the next allocation
            # triggers it (a set: lists and dicts may come from free lists,
            # which do not count; once the session is freed, no pass is due).
            assert set() is not session

        variants[name] = cold
    for fn in variants.values():
        fn()  # warm-up: imports, schemas, connections
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    wall: dict[str, list[float]] = {name: [] for name in variants}
    for repeat in range(repeats):
        order = list(variants) if repeat % 2 == 0 else list(reversed(variants))
        for name in order:
            cpu_ms, wall_ms = _cpu_and_wall_ms(variants[name])
            cpu[name].append(cpu_ms)
            wall[name].append(wall_ms)
    ms = {name: statistics.median(values) for name, values in cpu.items()}
    wall_ms = {name: statistics.median(values) for name, values in wall.items()}
    labels = {
        "floor": f"floor: `json.loads` of the same {megabytes:.1f} MB of events, no models",
        "validation": "pydantic-core validating the joined events, models freed (collector paused)",
        "models": "the same with the collector's pass over the new models, as in a read",
    }
    rows = [
        "| cold `get` of a 10,000-event session (new store instance) "
        "| CPU ms (reading thread) | vs floor | wall ms |",
        "|---|---:|---:|---:|",
    ]
    for name in variants:
        label = labels.get(name, f"{name} store")
        rows.append(
            f"| {label} | {ms[name]:.1f} | {ms[name] / ms['floor']:.2f}× | {wall_ms[name]:.1f} |"
        )
    rows.append("")
    rows.append(
        f"Medians of {repeats} interleaved repeats, load average {os.getloadavg()[0]:.1f} "
        "at the end of this table. Measured here for reference with the original library "
        "(0.1.3): ≈ 105–111 ms wall."
    )
    return rows


def bench_prompt() -> list[str]:
    from a2a_session_manager.prompts import PromptStrategy, build_prompt_from_session

    session = Session()
    for i in range(10_000):
        session.add_event(_event(i))
    rows = [
        "| strategy | build on 10,000 events (ms) | with max_tokens=4000 (ms) |",
        "|---|---:|---:|",
    ]
    for strategy in PromptStrategy:
        plain = median_ms(lambda s=strategy: build_prompt_from_session(session, s), 5)
        cut = median_ms(
            lambda s=strategy: build_prompt_from_session(session, s, max_tokens=4000), 5
        )
        rows.append(f"| {strategy.name} | {plain:.1f} | {cut:.1f} |")
    return rows


def bench_tokens() -> list[str]:
    import tiktoken  # noqa: F401  (raw tiktoken, the same encoding object)

    from a2a_session_manager.tokens import count_tokens, encoding_for_model

    texts = [
        f"Message {i}: the quick brown fox jumps over the lazy dog, again and again." * (1 + i % 5)
        for i in range(200)
    ]
    raw = encoding_for_model("gpt-4o")
    ours_total = sum(count_tokens(t, "gpt-4o") for t in texts)
    raw_total = sum(len(raw.encode(t, disallowed_special=())) for t in texts)
    assert ours_total == raw_total

    def ours() -> None:
        for t in texts:
            count_tokens(t, "gpt-4o")

    def raw_tiktoken() -> None:
        for t in texts:
            len(raw.encode(t, disallowed_special=()))

    result = interleaved({"ours": ours, "raw": raw_tiktoken}, calls=20, repeats=9, warmup=5)
    tokens_per_s = raw_total / (result["ours"] / 1e6)
    raw_per_s = raw_total / (result["raw"] / 1e6)
    ratio = result["ours"] / result["raw"]
    return [
        "| counter | µs per 200 messages | tokens/s | ratio |",
        "|---|---:|---:|---:|",
        f"| raw tiktoken `encode` | {result['raw']:,.0f} | {raw_per_s:,.0f} | 1.00× |",
        f"| `count_tokens` | {result['ours']:,.0f} | {tokens_per_s:,.0f} | {ratio:.2f}× |",
    ]


PEER_VENVS = Path(os.environ.get("A2A_PEER_VENVS", "/tmp/peers"))


def bench_seed(venvs: Path = PEER_VENVS) -> list[str]:
    """The original library (0.1.3) in its own venv, measured in this same run."""
    python = venvs / "seed" / "bin" / "python"
    if not python.exists():
        return [
            f"(original 0.1.3 not measured: no venv at {python.parent.parent}; "
            "`bash benchmarks/peers/install.sh` makes it)"
        ]
    script = Path(__file__).with_name("peers") / "seed_storage.py"
    proc = subprocess.run(
        [str(python), str(script)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=tempfile.gettempdir(),  # never import our package from this checkout
    )
    if proc.returncode != 0:
        return [f"(original 0.1.3 failed: {proc.stderr.strip().splitlines()[-1:]})"]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    appends = result["append_us"]
    return [
        "| original 0.1.3, file store, same run | 10 events | 1,000 | 10,000 | cold get 10,000 |",
        "|---|---:|---:|---:|---:|",
        f"| append 1 event + save | {appends['10']:,.0f} µs | {appends['1000']:,.0f} µs "
        f"| {appends['10000']:,.0f} µs | {result['cold_get_ms']:.1f} ms |",
    ]


def main() -> str:
    with _stores() as makers:
        sections = [
            "### Append one event to a session that already holds N events",
            *bench_appends(makers),
            "",
            "### Cold read",
            *bench_cold_get(makers),
        ]
    sections += ["", "### The original library, same run", *bench_seed()]
    sections += [
        "",
        "### Prompt building",
        *bench_prompt(),
        "",
        "### Token counting (o200k_base)",
        *bench_tokens(),
    ]
    return "\n".join(sections)


def cold_main() -> str:
    """The cold-read table alone (``python -m benchmarks.bench_storage cold``)."""
    with _stores() as makers:
        return "\n".join(bench_cold_get(makers))


if __name__ == "__main__":
    import sys

    print(cold_main() if sys.argv[1:] == ["cold"] else main())
