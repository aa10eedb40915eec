"""``a2a-sessions list`` with conditions and pages: only matching sessions,
``--json`` with ``next_cursor`` added, progress on stderr, on file and Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.token_usage import TokenUsage
from a2a_session_manager.storage import SessionChanges, create_store
from tests.test_cli import run_cli

T0 = datetime(2025, 5, 1, tzinfo=UTC)


@pytest.fixture(params=["file", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = (
        f"file://{tmp_path / 'sessions'}"
        if request.param == "file"
        else request.getfixturevalue("redis_url")
    )
    store = create_store(url)
    for n in range(30):
        usage = TokenUsage(prompt_tokens=10, total_tokens=10, estimated_cost_usd=n / 1000)
        store.apply(
            SessionChanges(
                session_id=f"s{n:02d}",
                metadata=SessionMetadata(
                    created_at=T0,
                    updated_at=T0 + timedelta(hours=n),
                    properties={"user": f"u{n % 3}", "tier": "gold" if n % 5 == 0 else "free"},
                ),
                events=[
                    SessionEvent(
                        message={"error": "boom"} if n % 7 == 0 else "hi", token_usage=usage
                    )
                ],
            )
        )
    store.close()
    return url


def _ids(done: object) -> list[str]:
    return [s["id"] for s in json.loads(done.stdout)["sessions"]]  # type: ignore[attr-defined]


def test_conditions_select_sessions_newest_first(store_url: str, tmp_path: Path) -> None:
    def listed(*args: str) -> list[str]:
        done = run_cli("--store", store_url, "list", "--json", *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return _ids(done)

    assert listed("--user", "u1") == [f"s{n:02d}" for n in range(28, -1, -3)]
    assert listed("--where", "tier=gold", "--user", "u0") == ["s15", "s00"]
    assert listed("--errors") == ["s28", "s21", "s14", "s07", "s00"]
    assert listed("--min-cost", "0.027") == ["s29", "s28", "s27"]
    since = (T0 + timedelta(hours=25)).isoformat()
    assert listed("--since", since, "--until", "2025-05-02T03:00:00") == ["s27", "s26", "s25"]
    assert listed("--where", "tier=silver") == []


def test_limit_and_cursor_page_through_json_and_text(store_url: str, tmp_path: Path) -> None:
    first = run_cli("--store", store_url, "list", "--json", "--limit", "12", cwd=tmp_path)
    document = json.loads(first.stdout)
    assert document["version"] == 1 and document["unreadable"] == []
    assert _ids(first) == [f"s{n:02d}" for n in range(29, 17, -1)]
    cursor = document["next_cursor"]
    second = run_cli(
        "--store", store_url, "list", "--json", "--limit", "100", "--cursor", cursor, cwd=tmp_path
    )
    assert _ids(second) == [f"s{n:02d}" for n in range(17, -1, -1)]
    assert json.loads(second.stdout)["next_cursor"] is None

    text = run_cli("--store", store_url, "list", "--limit", "5", cwd=tmp_path)
    assert len(text.stdout.splitlines()) == 2 + 5
    assert "more: --cursor " in text.stderr
    bad = run_cli("--store", store_url, "list", "--cursor", "nonsense", cwd=tmp_path)
    assert bad.returncode == 1 and "cursor" in bad.stderr


def test_bad_conditions_are_usage_errors(store_url: str, tmp_path: Path) -> None:
    for args in (["--since", "yesterday-ish"], ["--where", "novalue"], ["--limit", "0"]):
        done = run_cli("--store", store_url, "list", *args, cwd=tmp_path)
        assert done.returncode == 2, args


def test_progress_on_long_filtered_listings(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'many'}"
    store = create_store(url)
    for n in range(250):
        store.apply(
            SessionChanges(
                session_id=f"s{n:03d}", metadata=SessionMetadata(properties={"user": "a"})
            )
        )
    store.close()
    done = run_cli("--store", url, "list", "--json", "--user", "a", "--progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "reading sessions 100" in done.stderr and "reading sessions 200" in done.stderr
    assert len(_ids(done)) == 250
