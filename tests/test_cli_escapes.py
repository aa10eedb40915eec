"""Recorded text never drives the terminal: every ``a2a-sessions`` output shows
ESC, BEL, CR, C1 controls and bidi overrides escaped, in ids, properties,
messages, tool and run names, errors and warnings; JSON output stays the same
JSON values."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from a2a_session_manager.models import EventSource, EventType, Session, SessionEvent
from a2a_session_manager.models.session_run import SessionRun
from a2a_session_manager.models.token_usage import TokenUsage
from a2a_session_manager.reports import terminal_safe
from a2a_session_manager.storage import create_store
from tests.test_cli import run_cli

# ESC (a CSI that clears the screen), BEL, CR, the one-byte C1 CSI, an OSC
# that would set the window title, and a right-to-left override.
NASTY = "\x1b[2J\x07\rX\x9b31m\x1b]0;pwned\x07\u202e"
PARENT = "parent\x1b[31m\r"
CHILD = "child\x9b1m\x07"
# Raw controls a terminal acts on; \n and \t are the only ones allowed through.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"file://{tmp_path / 'sessions'}"
    store = create_store(url)
    parent = Session(id=PARENT)
    parent.metadata.properties.update({"user" + NASTY: "value" + NASTY, "plain": [NASTY]})
    run = SessionRun(name="planner" + NASTY)
    run.mark_failed("boom" + NASTY)
    parent.runs.append(run)
    parent.add_event(SessionEvent(message="hello" + NASTY, source=EventSource.USER))
    parent.add_event(
        SessionEvent(
            message={"content": "multi\nline" + NASTY, "tool_calls": []},
            source=EventSource.LLM,
            task_id=run.id,
            token_usage=TokenUsage(model="gpt" + NASTY, prompt_tokens=3, completion_tokens=2),
        )
    )
    parent.add_event(
        SessionEvent(
            message={
                "tool_name": "tool" + NASTY,
                "call_id": "c1",
                "arguments": {"q": NASTY},
                "result": NASTY,
            },
            type=EventType.TOOL_CALL,
            source=EventSource.SYSTEM,
        )
    )
    parent.add_child(CHILD)
    store.save(parent)
    child = Session(id=CHILD, parent_id=PARENT)
    child.add_event(SessionEvent(message=NASTY, source=EventSource.USER))
    store.save(child)
    store.close()
    return url


COMMANDS = [
    ("list",),
    ("show", PARENT),
    ("show", "--full", PARENT),
    ("tree", CHILD),
    ("usage", PARENT),
    ("show", "missing" + NASTY),  # the error names the id
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]).split("\x1b")[0])
def test_text_output_shows_controls_escaped(
    store_url: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    done = run_cli("--store", store_url, *command, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    assert RAW_CONTROL.search(done.stdout) is None, done.stdout
    assert RAW_CONTROL.search(done.stderr) is None, done.stderr
    assert "\\x1b[" in done.stdout + done.stderr or "\\x9b" in done.stdout


def test_ids_are_shown_escaped_where_they_are_listed(store_url: str, tmp_path: Path) -> None:
    listed = run_cli("--store", store_url, "list", cwd=tmp_path).stdout
    assert terminal_safe(PARENT) in listed and terminal_safe(CHILD) in listed
    assert terminal_safe(PARENT) == "parent\\x1b[31m\\r"
    shown = run_cli("--store", store_url, "show", PARENT, cwd=tmp_path).stdout
    assert "user\\x1b[2J\\x07\\rX\\x9b31m" in shown  # a property key
    assert "planner\\x1b[2J" in shown  # a run name
    assert "tool\\x1b[2J" in shown  # a tool name
    tree = run_cli("--store", store_url, "tree", CHILD, cwd=tmp_path).stdout
    assert tree.splitlines()[0].startswith(terminal_safe(PARENT))


@pytest.mark.parametrize(
    "command",
    [("list", "--json"), ("show", "--json", PARENT), ("tree", "--json", CHILD),
     ("usage", "--json", PARENT), ("prompt", PARENT)],
    ids=lambda c: c[0],
)  # fmt: skip
def test_json_output_escapes_controls_and_keeps_the_values(
    store_url: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    done = run_cli("--store", store_url, *command, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert RAW_CONTROL.search(done.stdout) is None
    assert PARENT in strings(json.loads(done.stdout))  # the same values, unescaped


def strings(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {s for k, v in value.items() for s in strings(k) | strings(v)}
    if isinstance(value, list):
        return {s for v in value for s in strings(v)}
    return set()


def test_store_warnings_and_errors_are_escaped(tmp_path: Path) -> None:
    # A directory name is not recorded text, but it reaches messages all the same.
    directory = tmp_path / "sessions\x1b[2J\x9b"
    store = create_store(f"file://{directory}")
    store.save(Session(id="fine"))
    store.close()
    os.mkfifo(directory / ("=" + "0" * 64 + ".jsonl"))  # a hashed name: listing opens it
    (directory / "corrupt.jsonl").write_bytes(b'{"i":"corrupt"}\nnot json\n')

    done = run_cli("--store", f"file://{directory}", "list", cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert "warning: file store: skipping" in done.stderr
    assert "cannot read session 'corrupt'" in done.stderr
    assert "sessions\\x1b[2J\\x9b" in done.stderr
    assert RAW_CONTROL.search(done.stdout + done.stderr) is None
