"""The first exact token count in a fresh process (issue 11), on the caller's
thread: without ``configure`` (the count builds its encoding itself), right
after ``configure`` (the build started in the background; the count waits for
what is left of it), and after ``configure`` plus the start-up work an
application does before its first LLM call (here: creating an OpenAI client
and waiting for the background load, which an application's start-up usually
covers). Also the first price (genai-prices) the same ways.

Run: python -m benchmarks.bench_first_count   (Markdown on stdout)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    mode = sys.argv[1]
    import a2a_session_manager as asm
    from a2a_session_manager.storage import InMemorySessionStore
    from a2a_session_manager.tokens import count_tokens, estimate_cost
    if mode != "cold":
        asm.configure(store=InMemorySessionStore())
    if mode == "warmed":
        import openai
        openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="t")
        import threading
        for t in threading.enumerate():
            if t.name == "a2a-warm-up":
                t.join(30)
    start = time.perf_counter()
    count_tokens("What is the capital of France?", "gpt-4o-mini")
    counted = time.perf_counter()
    estimate_cost("gpt-4o-mini", input_tokens=10, output_tokens=5)
    priced = time.perf_counter()
    print(json.dumps({"count_ms": (counted - start) * 1e3, "price_ms": (priced - counted) * 1e3}))
    """
)

MODES = {
    "cold": "no `configure`: the count builds the encoding itself",
    "right_after": "right after `configure` (waits for what is left of the background build)",
    "warmed": "after `configure` and an application's start-up (background load done)",
}


def _run(mode: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(repeats: int = 7) -> str:
    rows = [
        "| first call on the caller's thread | exact count, ms (median) | first price, ms |",
        "|---|---:|---:|",
    ]
    for mode, label in MODES.items():
        runs = [_run(mode) for _ in range(repeats)]
        count = statistics.median(r["count_ms"] for r in runs)
        price = statistics.median(r["price_ms"] for r in runs)
        rows.append(f"| {label} | {count:,.1f} | {price:,.1f} |")
    return "\n".join(
        [
            "### First count and first price in a fresh process",
            f"Median of {repeats} fresh processes each. Target: under 50 ms after `configure`.",
            "",
            *rows,
        ]
    )


if __name__ == "__main__":
    print(main())
