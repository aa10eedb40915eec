"""Runs every benchmark and writes benchmarks/RESULTS.md.

    python -m benchmarks.run                 # all sections
    python -m benchmarks.run storage sdk     # some sections (others keep their last text)

Each section is one module's ``main() -> str`` (Markdown). Everything runs in
this process, side by side with raw OpenTelemetry where a floor applies;
peers run in their own virtualenvs (benchmarks/bench_peers.py).
"""

from __future__ import annotations

import importlib
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

SECTIONS = {
    "storage": ("Stores, prompts and tokens (issue 3)", "benchmarks.bench_storage"),
    "sdk": ("Runs as spans, recorded into stores (issue 4)", "benchmarks.bench_sdk"),
    "openai": ("The instrumented OpenAI client (issue 5)", "benchmarks.bench_openai"),
    "anthropic": ("The instrumented Anthropic client (issue 12)", "benchmarks.bench_anthropic"),
    "mapping": (
        "Span → session mapping as conversations grow (issue 9)",
        "benchmarks.bench_mapping",
    ),
    "production": (
        "Safe in production: hung store, long outage (issue 10)",
        "benchmarks.bench_production",
    ),
    "first_count": (
        "First count and first price after configure (issue 11)",
        "benchmarks.bench_first_count",
    ),
    "a2a": ("Agent to agent over A2A (issue 13)", "benchmarks.bench_a2a"),
    "listing": (
        "Finding sessions, Redis Cluster (issue 14)",
        "benchmarks.bench_listing",
    ),
    "peers": ("The peers, each in its own venv, same machine", "benchmarks.bench_peers"),
}
RESULTS = Path(__file__).with_name("RESULTS.md")


def _machine() -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load:.1f} at start, commit {commit or '?'}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def _previous_sections() -> dict[str, str]:
    if not RESULTS.exists():
        return {}
    text = RESULTS.read_text(encoding="utf-8")
    found = {}
    for key in SECTIONS:
        match = re.search(rf"<!-- section:{key} -->\n(.*?)<!-- /section:{key} -->", text, re.S)
        if match:
            found[key] = match.group(1)
    return found


def main(argv: list[str]) -> None:
    wanted = argv or list(SECTIONS)
    unknown = [name for name in wanted if name not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    sections = _previous_sections()
    for name in wanted:
        title, module_name = SECTIONS[name]
        print(f"running {name} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        body = importlib.import_module(module_name).main()
        took = time.perf_counter() - started
        sections[name] = f"## {title}\n\n_{_machine()}; took {took:.0f} s._\n\n{body}\n"
    parts = [
        "# Benchmark results\n",
        "Written by `python -m benchmarks.run`. Medians of interleaved blocks in one process; "
        "raw OpenTelemetry measured in the same run as the floor. Timing is never asserted in "
        "tests: these numbers are the record.\n",
    ]
    for key in SECTIONS:
        if key in sections:
            parts.append(f"<!-- section:{key} -->\n{sections[key]}<!-- /section:{key} -->\n")
    RESULTS.write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
