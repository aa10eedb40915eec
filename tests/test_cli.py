"""The ``a2a-sessions`` command, run as a real subprocess against real stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from a2a_session_manager.models import Session, SessionEvent
from a2a_session_manager.storage import create_store
from tests.support.report_sessions import HOSTILE, SampleIds, fill_store

IDS = SampleIds()


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "A2A_SESSIONS_STORE"}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "a2a_session_manager.cli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "sessions"
    store = create_store(f"file://{directory}")
    fill_store(store)
    store.close()
    return directory


@pytest.fixture
def cli(store_dir: Path):  # type: ignore[no-untyped-def]
    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("--store", f"file://{store_dir}", *args, cwd=store_dir.parent)

    return call


def test_list_is_newest_first_with_runs_events_tokens_and_cost(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    order = [line.split()[0] for line in lines[2:]]
    assert order == [IDS.parent, IDS.child, IDS.grandchild, IDS.other]
    parent_line = lines[2].split()
    assert parent_line[3:6] == ["3", "9", "1,298"]  # runs, events, tokens
    assert "unknown price" in lines[2]  # one call of a model without a price
    assert lines[3].rstrip().endswith(IDS.parent)  # the child names its parent


def test_list_json_shape(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("list", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["version"] == 1
    assert document["unreadable"] == []
    sessions = document["sessions"]
    assert [s["id"] for s in sessions] == [IDS.parent, IDS.child, IDS.grandchild, IDS.other]
    assert set(sessions[0]) == {
        "id",
        "parent_id",
        "created_at",
        "updated_at",
        "runs",
        "events",
        "llm_calls",
        "failed_calls",
        "children",
        "total_tokens",
        "cost_usd",
        "unpriced_calls",
    }
    parent = sessions[0]
    assert (parent["runs"], parent["events"], parent["total_tokens"]) == (3, 9, 1298)
    assert parent["unpriced_calls"] == 1 and parent["cost_usd"] > 0
    assert parent["children"] == 1 and sessions[1]["parent_id"] == IDS.parent
    # No token usage at all: no cost, and nothing unpriced either.
    assert sessions[3]["cost_usd"] is None and sessions[3]["unpriced_calls"] == 0
    assert parent["updated_at"] == "2025-05-01T12:00:06.400000+00:00"


def test_store_from_environment_and_default_directory(store_dir: Path, tmp_path: Path) -> None:
    via_env = run_cli(
        "list", "--json", cwd=tmp_path / "..", env={"A2A_SESSIONS_STORE": f"file://{store_dir}"}
    )
    assert via_env.returncode == 0, via_env.stderr
    assert len(json.loads(via_env.stdout)["sessions"]) == 4
    # Default file://./sessions, relative to the working directory.
    default = run_cli("list", "--json", cwd=store_dir.parent)
    assert json.loads(default.stdout)["sessions"][0]["id"] == IDS.parent
    # Explicit --store after the command wins over the environment.
    explicit = run_cli(
        "list",
        "--store",
        f"file://{store_dir}",
        cwd=tmp_path,
        env={"A2A_SESSIONS_STORE": "memory://"},
    )
    assert explicit.returncode == 0, explicit.stderr


def test_show_lists_runs_then_events_in_order_with_tool_calls(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("show", IDS.parent)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "✗ booking" in out and "PaymentDeclined: card expired" in out
    assert "Events (9, 3 tool calls)" in out
    positions = [
        out.index("Plan a weekend in Lisbon"),
        out.index("asks get_weather, find_hotel"),
        out.index("↳ tool get_weather"),
        out.index("↳ tool find_hotel"),
        out.index("Lisbon will be sunny"),
        out.index("↳ tool currency"),  # seed-style {"tool", "arguments", "result"}
        out.index("audit_note"),  # custom event type survives
    ]
    assert positions == sorted(positions)
    assert "error: TimeoutError: hotel API did not answer in 3 s  [3.00 s]" in out
    assert "(local-llama-3-8b: 120+12 tokens, unknown price)" in out


def test_show_json_has_every_run_and_event_as_stored(cli) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(cli("show", IDS.parent, "--json").stdout)
    assert document["version"] == 1
    assert document["session"]["id"] == IDS.parent
    assert document["session"]["properties"] == {"user": "ada", "channel": "web"}
    assert [r["name"] for r in document["runs"]] == ["planner", "weather-agent", "booking"]
    events = document["events"]
    assert [e["id"] for e in events][:3] == ["e-user", "e-ask", "e-weather"]
    assert events[2]["metadata"]["parent_event_id"] == "e-ask"
    assert events[-1]["message"] == HOSTILE


def test_show_full_keeps_long_messages(cli) -> None:  # type: ignore[no-untyped-def]
    short = cli("show", IDS.parent).stdout
    full = cli("show", IDS.parent, "--full").stdout
    assert "Flights are being searched in a sub-agent." not in short
    assert "Flights are being searched in a sub-agent." in full


def test_tree_shows_the_whole_hierarchy(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("tree", IDS.grandchild)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(IDS.parent)
    assert lines[1].startswith(f"└── {IDS.child}")
    assert lines[2].startswith(f"    └── {IDS.grandchild}") and lines[2].endswith("◀")
    document = json.loads(cli("tree", IDS.grandchild, "--json").stdout)
    assert document["ancestors"] == [IDS.child, IDS.parent]
    root = document["root"]
    assert root["id"] == IDS.parent
    assert root["children"][0]["id"] == IDS.child
    assert root["children"][0]["children"][0]["id"] == IDS.grandchild
    assert root["children"][0]["children"][0]["children"] == []


def test_usage_by_model_source_and_run(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("usage", IDS.parent)
    assert done.returncode == 0, done.stderr
    llama = next(line for line in done.stdout.splitlines() if line.startswith("local-llama"))
    assert llama.split() == [
        *("local-llama-3-8b", "1", "0", "120", "12", "0", "0", "132"),
        *("unknown", "price"),
    ]
    document = json.loads(cli("usage", IDS.parent, "--json").stdout)
    models = {row["key"]: row for row in document["by_model"]}
    assert models["gpt-4o-mini"]["prompt_tokens"] == 412 + 655
    assert models["gpt-4o-mini"]["cost_usd"] > 0
    assert models["local-llama-3-8b"]["cost_usd"] is None  # never invented
    assert models["local-llama-3-8b"]["unpriced_calls"] == 1
    assert [row["key"] for row in document["by_source"]] == ["llm"]
    assert [(row["key"], row["label"]) for row in document["by_run"]] == [("run-plan", "planner")]
    assert document["total"]["total_tokens"] == 1298
    assert document["total"]["counted_by"] == ["provider"]


def test_prompt_as_json(cli) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("a2a_session_manager.prompts")
    done = cli("prompt", IDS.child, "--strategy", "conversation", "--model", "gpt-4o")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["strategy"] == "conversation" and document["model"] == "gpt-4o"
    messages = document["messages"]
    assert messages[0] == {"role": "user", "content": "Find flights to Lisbon on Friday."}
    roles = [m["role"] for m in messages]
    assert roles.index("tool") == roles.index("assistant") + 1  # result after its call
    assert document["prompt_tokens"] > 0
    small_run = cli("prompt", IDS.child, "--max-tokens", "40", "--strategy", "TASK_FOCUSED")
    small = json.loads(small_run.stdout)
    assert small["prompt_tokens"] <= 40 and small["strategy"] == "task"
    one_run = json.loads(cli("prompt", IDS.parent, "--run", "run-weather").stdout)["messages"]
    assert [m["role"] for m in one_run] == ["assistant", "tool"]  # its result, with a call
    assert "sunny" in one_run[1]["content"]
    no_run = cli("prompt", IDS.parent, "--run", "run-nowhere")
    assert no_run.returncode == 1 and "no run 'run-nowhere'" in no_run.stderr
    bad = cli("prompt", IDS.child, "--strategy", "telepathy")
    assert bad.returncode == 1 and "telepathy" in bad.stderr


def test_export_writes_report_and_children(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "reports" / "trip.html"
    out.parent.mkdir()
    done = cli("export", IDS.parent, "--html", str(out), "--with-children")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "flight-search.html",
        "seat-picker.html",
        "trip.html",
    ]
    assert 'href="flight-search.html"' in out.read_text(encoding="utf-8")
    missing_dir = cli("export", IDS.parent, "--html", str(tmp_path / "nope" / "x.html"))
    assert missing_dir.returncode == 1 and "cannot write the report" in missing_dir.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["show", "no-such-session"], 1, "no session 'no-such-session'"),
        (["usage", "no-such-session", "--json"], 1, "no session"),
        (["tree", "../../etc/passwd"], 1, "no session '../../etc/passwd'"),
        (["--store", "ftp://example/x", "list"], 1, "unknown store URL"),
        (["--store", "memory://", "list"], 1, "memory:// holds sessions only inside"),
        (["--store", "redis://127.0.0.1:1/0", "list"], 3, "store unavailable"),
        (["--store", "redis://127.0.0.1:1/0", "show", "x"], 3, "store unavailable"),
        (["--store", "file:///definitely/not/here", "list"], 3, "does not exist"),
        (["show"], 2, "required"),
        (["frobnicate"], 2, "invalid choice"),
        (["prompt", "x", "--max-tokens", "lots"], 2, "invalid int"),
    ],
)
def test_exit_codes_and_errors(store_dir: Path, args: list[str], code: int, message: str) -> None:
    done = run_cli(*args, cwd=store_dir.parent)  # default store: ./sessions
    assert done.returncode == code, (done.stdout, done.stderr)
    assert message in done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr


def test_reader_never_creates_the_store_directory(tmp_path: Path) -> None:
    done = run_cli("list", cwd=tmp_path)
    assert done.returncode == 3
    assert not (tmp_path / "sessions").exists()


def test_help_documents_exit_codes_and_store_urls(tmp_path: Path) -> None:
    done = run_cli("--help", cwd=tmp_path)
    assert done.returncode == 0
    for text in ("exit codes:", "3  store unavailable", "A2A_SESSIONS_STORE", "redis://HOST"):
        assert text in done.stdout
    for command in ("list", "show", "tree", "usage", "prompt", "export"):
        assert command in done.stdout


def test_progress_on_request_and_on_long_listings(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    forced = cli("list", "--progress")
    assert "reading sessions 4/4" in forced.stderr
    assert cli("list").stderr == ""  # short listing, not a terminal: quiet
    assert cli("list", "--no-progress").stderr == ""

    many = tmp_path / "many"
    store = create_store(f"file://{many}")
    for i in range(120):
        session = Session(id=f"s{i:03d}")
        session.add_event(SessionEvent(message=f"hello {i}"))
        store.save(session)
    store.close()
    done = run_cli("--store", f"file://{many}", "list", "--json", cwd=tmp_path)
    assert done.returncode == 0
    assert "reading sessions 1/120" in done.stderr and "reading sessions 120/120" in done.stderr
    assert len(json.loads(done.stdout)["sessions"]) == 120  # stdout stays clean JSON
    limited = run_cli("--store", f"file://{many}", "list", "--limit", "5", cwd=tmp_path)
    assert len(limited.stdout.splitlines()) == 2 + 5


def test_hostile_session_ids_round_trip(tmp_path: Path) -> None:
    directory = tmp_path / "sessions"
    store = create_store(f"file://{directory}")
    hostile_ids = ["../escape", "a/b\\c", "x" * 10_000, "nul\x00inside"]
    for sid in hostile_ids:
        session = Session(id=sid)
        session.add_event(SessionEvent(message=HOSTILE))
        store.save(session)
    store.close()
    listed = json.loads(run_cli("list", "--json", cwd=tmp_path).stdout)
    assert sorted(s["id"] for s in listed["sessions"]) == sorted(hostile_ids)
    shown = run_cli("show", "../escape", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["events"][0]["message"] == HOSTILE
    out = tmp_path / "r.html"
    exported = run_cli("export", "a/b\\c", "--html", str(out), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "sessions"]


def test_output_cut_short_by_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    """`a2a-sessions list --json | head -1`: the reader leaving is not a store error."""
    import subprocess
    import sys

    from a2a_session_manager.models import Session
    from a2a_session_manager.storage import create_file_session_store

    store = create_file_session_store(directory=tmp_path)
    for i in range(300):
        store.save(Session(id=f"s-{i:03d}"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "a2a_session_manager.cli",
            "--store",
            f"file://{tmp_path}",
            "list",
            "--json",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away mid-output
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert b"store unavailable" not in stderr
