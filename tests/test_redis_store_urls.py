"""Redis store URLs and odd index contents against real ``redis-server``s: an
ACL user with the default user off, ``rediss://`` to a TLS server, and
members of the index that are not UTF-8."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.storage import RedisSessionStore, StoreUnavailableError, create_store
from a2a_session_manager.storage._redis_keys import session_keys, shard_keys
from tests.support.processes import free_port
from tests.support.redis_server import RedisServer, redis_executable
from tests.test_cli import run_cli


@pytest.fixture
def dedicated_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of this test's own, so its users and ports change no other test."""
    server = RedisServer(redis_executable(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def saved_session(store: RedisSessionStore | object, session_id: str = "s1") -> None:
    session = Session(id=session_id)
    session.add_event(SessionEvent(message="hello"))
    store.save(session)  # type: ignore[attr-defined]


def test_an_acl_user_in_the_url_is_used(dedicated_server: RedisServer, tmp_path: Path) -> None:
    assert dedicated_server.command("ACL", "SETUSER", "app", "on", ">s3cret", "~*", "&*", "+@all")
    assert dedicated_server.command("ACL", "SETUSER", "default", "off") == b"+OK\r\n"
    url = f"redis://app:s3cret@{dedicated_server.host}:{dedicated_server.port}/0"

    store = create_store(url)
    saved_session(store)
    loaded = store.get("s1")
    assert loaded is not None and [e.message for e in loaded.events] == ["hello"]
    assert store.list_sessions() == ["s1"]
    store.close()

    done = run_cli("--store", url, "list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[2].split()[0] == "s1"

    wrong = create_store(f"redis://app:wrong@{dedicated_server.host}:{dedicated_server.port}/0")
    with pytest.raises(StoreUnavailableError):
        wrong.get("s1")
    wrong.close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def test_rediss_reaches_a_tls_server(tmp_path: Path) -> None:
    if not _openssl_available():
        pytest.skip("openssl is not installed")
    cert, key = _self_signed(tmp_path)
    tls_port = free_port()
    with tempfile.TemporaryDirectory(prefix="a2a-redis-tls-") as directory:
        server = RedisServer(
            redis_executable(),
            Path(directory),
            extra_args=[
                "--tls-port", str(tls_port),
                "--tls-cert-file", str(cert),
                "--tls-key-file", str(key),
                "--tls-ca-cert-file", str(cert),
                "--tls-auth-clients", "no",
            ],
        )  # fmt: skip
        server.start()
        try:
            url = f"rediss://127.0.0.1:{tls_port}/0"
            recorder = (
                "import sys\n"
                "from a2a_session_manager.storage import create_store\n"
                "from a2a_session_manager.models.session import Session\n"
                "store = create_store(sys.argv[1])\n"
                "store.save(Session(id='over-tls'))\n"
            )
            env = {**os.environ, "SSL_CERT_FILE": str(cert)}  # trust our own CA
            done = subprocess.run(
                [os.sys.executable, "-c", recorder, url],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            listed = run_cli("--store", url, "list", cwd=tmp_path, env={"SSL_CERT_FILE": str(cert)})
            assert listed.returncode == 0, listed.stderr
            assert "over-tls" in listed.stdout
            # The plain port of the same server holds what went over TLS.
            ids_key = shard_keys("session:", "over-tls").ids
            assert redis.Redis(port=server.port).zrange(ids_key, 0, -1) == [b"over-tls"]
        finally:
            server.stop()


def _openssl_available() -> bool:
    from shutil import which

    return which("openssl") is not None


def test_members_that_are_not_utf8_are_skipped_with_a_warning(
    redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = create_store(redis_url)
    assert isinstance(store, RedisSessionStore)
    saved_session(store, "good")
    raw = redis.Redis.from_url(redis_url)
    raw.zadd(shard_keys("session:", "good").ids, {b"\xff\xfe\x1b[2J": 0})
    raw.zadd(session_keys("session:", "good").children, {b"\xc3\x28": 1, b"kid": 2})

    with caplog.at_level(logging.WARNING):
        assert store.list_sessions() == ["good"]
        assert store.children("good") == ["kid"]
    assert "not UTF-8" in caplog.text
    store.close()

    done = run_cli("--store", redis_url, "list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "not UTF-8" in done.stderr
    assert "\x1b" not in done.stderr  # shown escaped
    assert done.stdout.splitlines()[2].split()[0] == "good"
