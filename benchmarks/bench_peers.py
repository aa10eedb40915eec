"""The peers, each in its own virtualenv, against the same local server.

    python -m benchmarks.bench_peers [--venvs DIR]

Peers' pins conflict with ours and with each other, so each runs
``benchmarks/peers/peer_overhead.py`` in its own venv (DIR/<peer>/bin/python;
default /tmp/peers, made by ``bash benchmarks/peers/install.sh DIR``). The
local OpenAI-compatible server runs in this process. Each peer measures the
raw-OpenTelemetry floor in its own process too, so every row carries its own
floor. Peers that are not installed are listed as such, never guessed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

from a2a_session_manager.testing import LocalOpenAIServer

PEERS = ("otel-openai-v2", "openinference", "logfire", "langfuse", "openllmetry")
SCRIPT = Path(__file__).with_name("peers") / "peer_overhead.py"


def run_peer(venvs: Path, peer: str, base_url: str) -> dict[str, Any] | str:
    python = venvs / peer.replace("otel-openai-v2", "otelv2") / "bin" / "python"
    if not python.exists():
        return "not installed"
    proc = subprocess.run(
        [str(python), str(SCRIPT), peer, base_url],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:200]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def measure(venvs: Path) -> dict[str, dict[str, Any] | str]:
    with LocalOpenAIServer() as server:
        return {peer: run_peer(venvs, peer, server.base_url) for peer in PEERS}


def main(venvs: Path = Path("/tmp/peers")) -> str:
    results = measure(venvs)
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
