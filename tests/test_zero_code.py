"""Sessions with no code change: ``opentelemetry-instrument python app.py`` and
environment variables alone (``A2A_SESSIONS_STORE``, the ``OTEL_*`` ones)
record an application that never imports us into the named store, a file
store or a real Redis; ``configure()`` reads the same variables."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import a2a_session_manager as asm
from a2a_session_manager.models import EventSource
from a2a_session_manager.storage import FileSessionStore, SessionStoreProvider, create_store
from a2a_session_manager.testing import LocalOpenAIServer, Reply

# An application that knows nothing of session recording.
APP = """
import openai

client = openai.OpenAI(max_retries=0)
reply = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "What is the capital of France?"}],
)
print(reply.choices[0].message.content)
"""


def _opentelemetry_instrument() -> str:
    return str(Path(sys.executable).with_name("opentelemetry-instrument"))


def _hook_installed() -> bool:
    from importlib.metadata import entry_points

    hooks = entry_points(group="opentelemetry_post_instrument")
    return any(e.value == "a2a_session_manager.sdk._zero_code:record_sessions" for e in hooks)


def _run_app(tmp_path: Path, store_url: str) -> str:
    if not _hook_installed():  # installed metadata older than pyproject.toml
        pytest.fail(
            "our opentelemetry_post_instrument entry point is not installed: pip install -e ."
        )
    app = tmp_path / "app.py"
    app.write_text(APP, encoding="utf-8")
    keep = ("PATH", "HOME", "PYTHONPATH", "LANG", "TMPDIR")
    with LocalOpenAIServer() as server:
        server.queue(Reply("Paris."))
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(
            {
                "A2A_SESSIONS_STORE": store_url,
                "OTEL_SERVICE_NAME": "zero-code-app",
                "OTEL_TRACES_EXPORTER": "none",
                "OTEL_METRICS_EXPORTER": "none",
                "OPENAI_BASE_URL": server.base_url,
                "OPENAI_API_KEY": "test",
            }
        )
        done = subprocess.run(
            [_opentelemetry_instrument(), sys.executable, str(app)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Paris."
    return done.stderr


def _check_recorded(store_url: str) -> None:
    store = create_store(store_url)
    try:
        (session_id,) = store.list_sessions()
        session = store.get(session_id)
        assert session is not None
        assert [(e.source, e.message) for e in session.events] == [
            (EventSource.USER, "What is the capital of France?"),
            (EventSource.LLM, "Paris."),
        ]
        usage = session.events[-1].token_usage
        assert usage is not None and usage.total_tokens > 0 and usage.model == "gpt-4o-mini"
    finally:
        store.close()


def test_opentelemetry_instrument_records_into_a_file_store(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'sessions'}"
    _run_app(tmp_path, url)
    _check_recorded(url)


def test_opentelemetry_instrument_records_into_redis(tmp_path: Path, redis_url: str) -> None:
    _run_app(tmp_path, redis_url)
    _check_recorded(redis_url)


def test_configure_reads_the_store_from_the_environment(
    clean_otel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("A2A_SESSIONS_STORE", f"file://{tmp_path / 'env-sessions'}")
    handle = asm.configure()
    store = SessionStoreProvider.get_store()
    assert isinstance(store, FileSessionStore)
    with asm.session("from-env"):
        asm.record_event("hello")
    handle.force_flush()
    reopened = create_store(f"file://{tmp_path / 'env-sessions'}")
    stored = reopened.get("from-env")
    assert stored is not None and [e.message for e in stored.events] == ["hello"]
    # an explicit store wins over the variable; a later call does not rebuild it
    assert asm.configure() is handle and SessionStoreProvider.get_store() is store


def test_a_bad_store_url_is_logged_not_raised(
    clean_otel: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("A2A_SESSIONS_STORE", "ftp://nowhere")
    with caplog.at_level(logging.ERROR):
        handle = asm.configure()
    assert handle.enabled
    assert any("A2A_SESSIONS_STORE" in r.getMessage() for r in caplog.records)
