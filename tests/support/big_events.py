"""Record RUNS runs of one 512 KiB event each into the store at URL, in this
process, and print the process's peak RSS and the exporter's stats as JSON.

    python -m tests.support.big_events URL RUNS

Used by the memory tests and benchmarks (a fresh process, so ``ru_maxrss``
is this load's alone). With a Redis store that answers, each session is
deleted once it is readable, so the test server holds no gigabyte of copies.
"""

from __future__ import annotations

import json
import resource
import sys

from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm

EVENT_BYTES = 512 * 1024


def main(url: str, runs: int) -> dict[str, float]:
    store = asm.create_store(url)
    handle = asm.configure(store=store, tracer_provider=TracerProvider())
    filler = "x" * (EVENT_BYTES - 8)
    readable = 0
    for i in range(runs):
        with asm.session(f"s-{i}"), asm.run("big"):
            asm.record_event(f"{i:08d}" + filler)
        if url.startswith("redis") and handle.stats()["buffered_items"] == 0:
            readable += store.exists(f"s-{i}")  # written before the run returned
            store.delete(f"s-{i}")
    handle.shutdown()
    return {
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "readable": readable,
        **handle.stats(),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
