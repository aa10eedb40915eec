"""The A2A agent of tests/support/a2a_agent.py as a child process, a real
a2a-sdk client for it, and a bounded wait for what the agent stores."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from a2a.client import Client, ClientConfig, create_client
from a2a.types.a2a_pb2 import AgentCapabilities, AgentCard, AgentInterface

AGENT = Path(__file__).parent / "a2a_agent.py"
T = TypeVar("T")


class A2AAgent:
    """``a2a_agent.py STORE_URL SPANS_FILE POLICY`` running on 127.0.0.1."""

    def __init__(self, store_url: str, spans_file: Path, policy: str = "allow") -> None:
        self.spans_file = spans_file
        self.process = subprocess.Popen(
            [sys.executable, str(AGENT), store_url, str(spans_file), policy],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"A2A agent did not start (printed {line!r})")
        self.url = f"http://127.0.0.1:{int(line)}/"

    async def client(self, *, streaming: bool) -> Client:
        return await create_client(
            self.url,
            ClientConfig(streaming=streaming, httpx_client=httpx.AsyncClient(timeout=60)),
        )

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        """The agent's finished spans of one trace (SimpleSpanProcessor: written on end)."""
        if not self.spans_file.exists():
            return []
        records = [json.loads(line) for line in self.spans_file.read_text().splitlines()]
        return [r for r in records if r["trace_id"] == trace_id]

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # the agent exits when stdin closes
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def unreachable_client(port: int) -> Any:
    """A client for an agent card whose interface nothing listens on."""
    from a2a.client import ClientFactory

    card = AgentCard(
        name="gone-agent",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(protocol_binding="JSONRPC", url=f"http://127.0.0.1:{port}/")
        ],
        capabilities=AgentCapabilities(streaming=False),
    )
    config = ClientConfig(streaming=False, httpx_client=httpx.AsyncClient(timeout=10))
    return ClientFactory(config).create(card)


def eventually(probe: Callable[[], T | None], timeout: float = 30) -> T:
    """``probe()`` once it returns something truthy: what another process
    writes arrives after its reply. Fails (never returns late) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing arrived within {timeout}s (last: {value!r})")
        time.sleep(0.05)
