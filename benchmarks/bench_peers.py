"""The peers, each in its own virtualenv, against the same local server.

    python -m benchmarks.bench_peers [--venvs DIR]

Peers' pins conflict with ours and with each other, so each runs
``benchmarks/peers/peer_overhead.py`` in its own venv (DIR/<peer>/bin/python;
default /tmp/peers, made by ``bash benchmarks/peers/install.sh DIR``). The
local OpenAI-compatible server runs in this process. Each peer measures the
raw-OpenTelemetry floor in its own process too, so every row carries its own
floor. Peers that are not installed are listed as such, never guessed.

The Anthropic wrappers, ours included, are timed by
``benchmarks/peers/anthropic_overhead.py``, each in a process of its own (ours
in this interpreter, with this source tree on its path).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from a2a_session_manager.testing import LocalOpenAIServer

PEERS = ("otel-openai-v2", "openinference", "logfire", "langfuse", "openllmetry")
ANTHROPIC_PEERS = ("ours", "otel-anthropic", "openinference", "logfire", "openllmetry")
SCRIPT = Path(__file__).with_name("peers") / "peer_overhead.py"
ANTHROPIC_SCRIPT = SCRIPT.with_name("anthropic_overhead.py")
VENV_NAMES = {"otel-openai-v2": "otelv2", "otel-anthropic": "otelanthropic"}


def run_script(
    python: Path, args: list[str], env: dict[str, str] | None = None
) -> dict[str, Any] | str:
    """The JSON line a peer script prints last, or why there is none."""
    if not python.exists():
        return "not installed"
    proc = subprocess.run(
        [str(python), *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=env,
    )
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:200]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def peer_python(venvs: Path, peer: str) -> Path:
    return venvs / VENV_NAMES.get(peer, peer) / "bin" / "python"


def measure(venvs: Path) -> dict[str, dict[str, Any] | str]:
    with LocalOpenAIServer() as server:
        return {
            peer: run_script(peer_python(venvs, peer), [str(SCRIPT), peer, server.base_url])
            for peer in PEERS
        }


def measure_anthropic(venvs: Path) -> dict[str, dict[str, Any] | str]:
    root = str(Path(__file__).resolve().parent.parent)
    results = {}
    for peer in ANTHROPIC_PEERS:
        if peer == "ours":
            env = {**os.environ, "PYTHONPATH": root}
            results[peer] = run_script(Path(sys.executable), [str(ANTHROPIC_SCRIPT), peer], env)
        else:
            results[peer] = run_script(peer_python(venvs, peer), [str(ANTHROPIC_SCRIPT), peer])
    return results


CLOCK_LABELS = {
    "wall": "wall time",
    "cpu": "caller-thread CPU",
    "process": "all threads' CPU",
}


def anthropic_rows(results: dict[str, dict[str, Any] | str]) -> list[str]:
    """Ours and the peers' Anthropic wrappers: added µs next to the raw span of
    the same process by each clock, then what their streams add per event."""
    call_rows = [
        "| Anthropic wrapper around an instant `Messages.create` "
        "| added µs, wall | raw span, same process | vs floor "
        "| added µs, caller-thread CPU | raw span | vs floor "
        "| added µs, all threads' CPU | vs floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    event_rows = [
        "| stream, added per event (caller-thread CPU) | text deltas (ns) "
        "| input_json deltas (ns) |",
        "|---|---:|---:|",
    ]
    added: dict[str, dict[str, float]] = {}
    for peer, result in results.items():
        name = anthropic_label(peer, result)
        if isinstance(result, str):
            call_rows.append(f"| {name} | {result} |" + " |" * 7)
            event_rows.append(f"| {name} | {result} | |")
            continue
        cells = []
        for clock in CLOCK_LABELS:
            us = result["wrapper_us"][clock]
            cost, floor = us["peer"] - us["bare"], us["raw_span"] - us["bare"]
            added.setdefault(clock, {})[peer] = cost
            shown = [f"{cost:.1f}", f"{floor:.1f}"] if clock != "process" else [f"{cost:.1f}"]
            cells += [*shown, f"{cost / floor:.2f}×"]
        call_rows.append(f"| {name} | {' | '.join(cells)} |")
        ns = result["event_ns"]
        event_rows.append(f"| {name} | {ns['text deltas']:,.0f} | {ns['input_json deltas']:,.0f} |")
    return [*call_rows, "", *best_peer_line(added), "", *event_rows]


LABELS = {
    "ours": "**ours** (`AnthropicInstrumentor`, session written in the background)",
    "otel-anthropic": "official: opentelemetry-instrumentation-genai-anthropic {v}",
    "openinference": "OpenInference: openinference-instrumentation-anthropic {v}",
    "logfire": "Logfire {v}: `instrument_anthropic` (wraps the client's `request`)",
    "openllmetry": "OpenLLMetry: opentelemetry-instrumentation-anthropic {v} (`Traceloop.init`)",
}


def anthropic_label(peer: str, result: dict[str, Any] | str) -> str:
    found = "" if isinstance(result, str) else result.get("version", "?")
    return LABELS[peer].format(v=found).replace(" :", ":")


def best_peer_line(added: dict[str, dict[str, float]]) -> list[str]:
    """Ours against the cheapest peer, by each clock."""
    parts = []
    for clock, label in CLOCK_LABELS.items():
        costs = added.get(clock, {})
        peers = {p: c for p, c in costs.items() if p != "ours"}
        if "ours" not in costs or not peers:
            continue
        best = min(peers, key=peers.__getitem__)
        parts.append(
            f"by {label}, ours {costs['ours']:.1f} µs, the cheapest peer ({best}) "
            f"{peers[best]:.1f} µs: {costs['ours'] / peers[best]:.2f}×"
        )
    return ["Ours against the cheapest peer's wrapper: " + "; ".join(parts) + "."] if parts else []


def main(venvs: Path = Path("/tmp/peers")) -> str:
    results = measure(venvs)
    anthropic = anthropic_rows(measure_anthropic(venvs))
    dec_rows = [
        "| peer decorator | µs per call | raw OTel span, same process (µs) | vs raw |",
        "|---|---:|---:|---:|",
    ]
    call_rows = [
        "| peer OpenAI instrumentation | added µs per call | raw-span floor | vs floor |",
        "|---|---:|---:|---:|",
    ]
    for peer, result in results.items():
        if isinstance(result, str):
            dec_rows.append(f"| {peer} | {result} | | |")
            call_rows.append(f"| {peer} | {result} | | |")
            continue
        dec = result["decorator_us"]
        if "decorator" in dec:
            cost = dec["decorator"] - dec["bare"]
            raw = dec["raw_span"] - dec["bare"]
            dec_rows.append(f"| {peer} | {cost:.1f} | {raw:.1f} | {cost / raw:.2f}× |")
        calls = result["openai_us"]
        if peer == "langfuse":
            # Its drop-in client patches openai at import: the bare call in the
            # same process is instrumented too, so nothing can be subtracted.
            call_rows.append(f"| {peer} | (patches openai at import: no bare baseline) | | |")
            continue
        floor = calls["raw_span"] - calls["bare"]
        added = calls["peer"] - calls["bare"]
        call_rows.append(f"| {peer} | {added:.0f} | {floor:.0f} | {added / floor:.2f}× |")
    wrap_rows = [
        "| peer's OpenAI wrapper around an instant `create` | added µs | raw span, same process "
        "| vs floor |",
        "|---|---:|---:|---:|",
    ]
    for peer, result in results.items():
        wrapper = None if isinstance(result, str) else result.get("wrapper_us")
        if wrapper:
            cost = wrapper["peer"] - wrapper["bare"]
            floor = wrapper["raw_span"] - wrapper["bare"]
            wrap_rows.append(f"| {peer} | {cost:.1f} | {floor:.1f} | {cost / floor:.2f}× |")
        else:
            wrap_rows.append(f"| {peer} | (no wrapt wrapper to time alone) | | |")
    return "\n".join(
        [
            "### Peers' OpenAI wrappers alone (as `bench_openai.bench_wrapper` times ours)",
            *wrap_rows,
            "",
            "### Peers' Anthropic wrappers alone, next to ours "
            "(as `bench_anthropic.bench_wrapper` times ours; each in a process of its own)",
            "Wall time is what bench_anthropic reports; on a loaded machine the caller "
            "thread's CPU time is steadier. Ours writes the session on a background thread: "
            "the caller's CPU leaves that out, wall time in its process charges part of it to "
            "the raw span measured beside it, and all threads' CPU counts it (a flush every "
            "100 calls, a new session every 100 calls). The peers export synchronously "
            "to an in-memory exporter, with their defaults.",
            "",
            *anthropic,
            "",
            "### Peers' decorators",
            *dec_rows,
            "",
            "### Peers' OpenAI instrumentation over HTTP to the local server (noisy)",
            *call_rows,
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--venvs", type=Path, default=Path("/tmp/peers"))
    print(main(parser.parse_args().venvs))
