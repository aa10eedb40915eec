"""A real Redis Cluster for the tests (pytest plugin, listed in tests/conftest.py).

Fixture ``redis_cluster`` (module-scoped): six ``redis-server
--cluster-enabled yes`` processes on free 127.0.0.1 ports, joined by
``redis-cli --cluster create ... --cluster-replicas 1`` (three masters with
one replica each), stopped by pid when the module's tests are done. Use
``cluster.url`` (``redis+cluster://127.0.0.1:P1,127.0.0.1:P2/``),
``cluster.flush()`` between tests, ``cluster.masters()`` /
``cluster.replica_of(port)`` to find nodes, ``cluster.kill(port)`` and
``cluster.failover(replica_port)`` to move a master's slots to its replica.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import free_port, stop_process

_NODES = 6
_TIMEOUT = 30.0


def _free_port_pair() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class RedisCluster:
    __test__ = False

    def __init__(self, server: str, cli: str, directory: Path) -> None:
        self.server = server
        self.cli = cli
        self.directory = directory
        self.host = "127.0.0.1"
        self.ports = [_free_port_pair() for _ in range(_NODES)]
        self._processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        live = [p for p in self.ports if p in self._processes]
        return "redis+cluster://" + ",".join(f"{self.host}:{p}" for p in live[:3]) + "/"

    def start(self) -> None:
        for port in self.ports:
            (self.directory / str(port)).mkdir()
            self.restart(port)
        for port in self.ports:
            self._wait(lambda port=port: self.command(port, "PING") == "PONG", f"{port} up")
        subprocess.run(
            [
                self.cli,
                "--cluster", "create",
                *(f"{self.host}:{p}" for p in self.ports),
                "--cluster-replicas", "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=_TIMEOUT,
        )  # fmt: skip
        self.wait_healthy()

    def restart(self, port: int) -> None:
        """Start the node on ``port`` (again: it rejoins with its nodes.conf)."""
        node_dir = self.directory / str(port)
        log = open(node_dir / "redis.log", "ab")  # noqa: SIM115 - owned by the process
        self._processes[port] = subprocess.Popen(
            [
                self.server,
                "--port", str(port),
                "--bind", self.host,
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(node_dir / "nodes.conf"),
                "--cluster-node-timeout", "1000",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(node_dir),
            ],
            cwd=node_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()

    def command(self, port: int, *args: str) -> str:
        done = subprocess.run(
            [self.cli, "-h", self.host, "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return done.stdout.strip()

    def _live(self) -> list[int]:
        return [p for p, proc in self._processes.items() if proc.poll() is None]

    def wait_healthy(self) -> None:
        """Until every live node says the cluster is ok and all 3 masters are known."""

        def healthy() -> bool:
            for port in self._live():
                if "cluster_state:ok" not in self.command(port, "CLUSTER", "INFO"):
                    return False
            masters = self.masters()
            return len(masters) == 3 and all(
                "state=online" in self.command(port, "INFO", "replication")
                for port in masters
                if self._has_live_replica(port)
            )

        self._wait(healthy, "cluster healthy")

    def _has_live_replica(self, master_port: int) -> bool:
        try:
            return self.replica_of(master_port) in self._live()
        except StopIteration:
            return False

    def _wait(self, check: object, what: str) -> None:
        deadline = time.monotonic() + _TIMEOUT
        while not check():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise RuntimeError(f"Redis Cluster: timed out waiting for {what}")
            time.sleep(0.1)

    def _nodes(self) -> list[list[str]]:
        for port in self._live():
            text = self.command(port, "CLUSTER", "NODES")
            if text:
                return [line.split() for line in text.splitlines()]
        return []

    def masters(self) -> list[int]:
        return [
            int(fields[1].split("@")[0].rsplit(":", 1)[1])
            for fields in self._nodes()
            if "master" in fields[2] and "fail" not in fields[2] and len(fields) > 8
        ]

    def replica_of(self, master_port: int) -> int:
        nodes = self._nodes()
        master_id = next(f[0] for f in nodes if f[1].split("@")[0].endswith(f":{master_port}"))
        return next(
            int(f[1].split("@")[0].rsplit(":", 1)[1])
            for f in nodes
            if f[3] == master_id and "fail" not in f[2]
        )

    def master_of_slot(self, slot: int) -> int:
        for fields in self._nodes():
            if "master" not in fields[2] or "fail" in fields[2]:
                continue
            for span in fields[8:]:
                low, _, high = span.partition("-")
                if low.isdigit() and int(low) <= slot <= int(high or low):
                    return int(fields[1].split("@")[0].rsplit(":", 1)[1])
        raise LookupError(slot)

    def kill(self, port: int) -> None:
        """SIGKILL: no shutdown, no last sync with the replica."""
        process = self._processes.pop(port)
        process.kill()
        process.wait(timeout=10)

    def wait_promoted(self, replica_port: int) -> None:
        self._wait(lambda: replica_port in self.masters(), f"{replica_port} promoted")

    def failover(self, replica_port: int) -> None:
        """A manual failover run on the replica: it takes its master's slots."""
        assert self.command(replica_port, "CLUSTER", "FAILOVER") == "OK"
        self._wait(lambda: replica_port in self.masters(), f"{replica_port} promoted")

    def flush(self) -> None:
        for port in self.masters():
            self.command(port, "FLUSHALL")

    def stop(self) -> None:
        for port in list(self._processes):
            stop_process(self._processes.pop(port))


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisCluster]:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if not server or not cli:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server and redis-cli must be on PATH in CI")
        pytest.skip("redis-server / redis-cli are not installed")
    with tempfile.TemporaryDirectory(prefix="a2a-cluster-") as directory:
        cluster = RedisCluster(server, cli, Path(directory))
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
