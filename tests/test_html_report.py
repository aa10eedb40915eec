"""The HTML session report, opened in a real headless Chromium."""

from __future__ import annotations

import html
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from a2a_session_manager.models import (
    EventSource,
    EventType,
    RunStatus,
    Session,
    SessionEvent,
    SessionRun,
    TokenUsage,
)
from a2a_session_manager.reports import render_report, report_filename
from a2a_session_manager.reports._usage import format_cost
from a2a_session_manager.storage import InMemorySessionStore, create_store
from tests.support.chromium import console_errors, dump_dom, screenshot
from tests.support.report_sessions import HOSTILE, SampleIds, at, fill_store

IDS = SampleIds()
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "images" / "session-report.png"


def _errors_box(dom: str) -> str:
    found = re.search(r'<pre id="report-errors"[^>]*>(.*?)</pre>', dom, re.S)
    assert found, "the error box is missing"
    return found.group(1)


def _title(dom: str) -> str:
    found = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert found, "the title is missing"
    return found.group(1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parent session and its descendants exported by the real command."""
    root = tmp_path_factory.mktemp("report")
    store = create_store(f"file://{root / 'sessions'}")
    fill_store(store)
    store.close()
    out = root / "html" / f"{IDS.parent}.html"
    out.parent.mkdir()
    done = subprocess.run(
        [
            *(sys.executable, "-m", "a2a_session_manager.cli"),
            *("--store", f"file://{root / 'sessions'}"),
            *("export", IDS.parent, "--html", str(out), "--all"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def rendered(exported: Path) -> tuple[str, str]:
    return dump_dom(exported)


def test_page_renders_without_errors(rendered: tuple[str, str]) -> None:
    dom, log = rendered
    assert 'data-report="ready"' in dom  # the script ran to its end
    assert _errors_box(dom) == ""
    assert console_errors(log) == []


def test_page_shows_the_recorded_content(rendered: tuple[str, str]) -> None:
    dom, _ = rendered
    for text in (
        "Plan a weekend in Lisbon",
        "Lisbon will be sunny",
        "get_weather",
        "TimeoutError: hotel API did not answer in 3 s",
        "PaymentDeclined: card expired",
        "weather-agent",
        "local-llama-3-8b",
        "unknown price",
        "1,298",
        "audit_note",
    ):
        assert html.escape(text, quote=False) in dom, text
    # The waterfall has one row per run, LLM call and tool call.
    assert dom.count('class="wf-row ') == 3 + 3 + 3
    assert "1.25 s" in dom and "3.30 s" in dom  # durations of a tool call and a run


def test_tool_calls_are_folded_under_the_message_that_asked(rendered: tuple[str, str]) -> None:
    dom, _ = rendered
    asking = re.search(r'<li class="msg llm" id="e-1">(.*?)</li>', dom, re.S)
    assert asking, "the LLM message that asked for tools is missing"
    folded = asking.group(1)
    assert folded.count('<details class="call"') == 2
    assert "get_weather" in folded and "find_hotel" in folded
    assert '<span class="pill error">error</span>' in folded
    # Folded calls are not repeated as messages of their own.
    assert dom.count('<span class="name">get_weather</span>') == 1


def test_links_to_child_sessions(exported: Path, rendered: tuple[str, str]) -> None:
    dom, _ = rendered
    assert f'href="{IDS.child}.html"' in dom
    child_page = exported.parent / f"{IDS.child}.html"
    assert child_page.exists() and (exported.parent / f"{IDS.grandchild}.html").exists()
    child_dom, log = dump_dom(child_page)
    assert f'href="{IDS.parent}.html"' in child_dom  # and back up to its parent
    assert f'href="{IDS.grandchild}.html"' in child_dom
    assert _errors_box(child_dom) == "" and console_errors(log) == []


def test_hostile_content_renders_as_text(rendered: tuple[str, str]) -> None:
    dom, _ = rendered
    assert _title(dom).endswith("A2A session report")  # no injected script changed it
    assert html.escape(HOSTILE, quote=False) in dom  # shown, as text
    assert '<img src="x"' not in dom and "<img src=x" not in dom


def test_hostile_session_ids_and_properties_are_escaped(tmp_path: Path) -> None:
    store = InMemorySessionStore()
    evil = '"><script>document.title="PWNED"</script>'
    session = Session(id=evil)
    session.metadata.properties = {evil: evil}
    session.add_event(SessionEvent(message={"content": evil, "tool_calls": []}))
    child = Session(id="../../" + evil, parent_id=evil)
    store.save(session)
    store.save(child)
    page = tmp_path / "evil.html"
    page.write_text(render_report(store.get(evil), store), encoding="utf-8")  # type: ignore[arg-type]
    dom, _ = dump_dom(page)
    assert 'data-report="ready"' in dom and _errors_box(dom) == ""
    assert _title(dom).endswith("A2A session report")  # no injected script changed it
    assert '<script>document.title="PWNED"' not in dom  # only ever as escaped text
    assert f'href="{report_filename(child.id)}"' in dom
    assert report_filename(child.id).startswith("session-")  # never a path


def test_injected_script_is_blocked_and_reported(exported: Path, tmp_path: Path) -> None:
    # A negative control for the error channel, and proof that the page's
    # Content Security Policy stops any script it did not ship with.
    tampered = tmp_path / "tampered.html"
    text = exported.read_text(encoding="utf-8")
    tampered.write_text(
        text.replace("</body>", "<script>document.title='PWNED'</script></body>"), "utf-8"
    )
    dom, _ = dump_dom(tampered)
    assert "content security policy" in _errors_box(dom)
    assert _title(dom).endswith("A2A session report")  # no injected script changed it


def test_screenshot(exported: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    log = screenshot(exported, shot, 1280, 1600)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1600)
    assert len(data) > 20_000  # a rendered page, not a blank one
    assert console_errors(log) == []
    if os.environ.get("A2A_UPDATE_SCREENSHOT") == "1":  # refresh the README's picture
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(data)


def test_ten_thousand_events_render_in_batches(tmp_path: Path) -> None:
    store = InMemorySessionStore()
    session = Session(id="big")
    for i in range(5_000):
        ask = SessionEvent(
            id=f"a{i}",
            timestamp=at(i),
            message={
                "content": None,
                "tool_calls": [{"id": f"c{i}", "name": "lookup", "arguments": "{}"}],
            },
            token_usage=TokenUsage(prompt_tokens=100, completion_tokens=10, model="gpt-4o-mini"),
            metadata={"duration_ms": 300},
        )
        tool = SessionEvent(
            id=f"t{i}",
            timestamp=at(i + 0.5),
            type=EventType.TOOL_CALL,
            source=EventSource.TOOL,
            message={"tool_name": "lookup", "call_id": f"c{i}", "arguments": {}, "result": i},
            metadata={"parent_event_id": f"a{i}", "duration_ms": 200},
        )
        session.add_event(ask)
        session.add_event(tool)
    store.save(session)
    page = tmp_path / "big.html"
    page.write_text(render_report(session, store), encoding="utf-8")
    dom, _ = dump_dom(page)
    assert 'data-report="ready"' in dom and _errors_box(dom) == ""
    assert "Showing 150 of 5,000 messages" in dom  # first batch only
    assert dom.count('<li class="msg llm"') == 150
    assert "550,000" in dom  # server-rendered totals: 5,000 calls of 110 tokens


def _agents_panel(page: str) -> list[list[str]]:
    """The rows of the "Agents in this session tree" table, as cell texts."""
    found = re.search(r'<section class="panel" id="agents">(.*?)</section>', page, re.S)
    assert found, "the agents panel is missing"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip(" \n")
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in rows
    ]


def test_time_and_cost_per_agent_across_the_session_tree() -> None:
    store = InMemorySessionStore()
    caller = Session(id="trip")
    caller.runs.append(
        SessionRun(name="coordinator", status=RunStatus.COMPLETED, started_at=at(0), ended_at=at(2))
    )
    specialist = Session(id="a2a-ctx", parent_id="trip")
    run = SessionRun(
        name="weather-specialist", status=RunStatus.COMPLETED, started_at=at(0.5), ended_at=at(1.25)
    )
    specialist.runs.append(run)
    specialist.add_event(
        SessionEvent(
            message="sunny",
            source=EventSource.LLM,
            task_id=run.id,
            token_usage=TokenUsage(prompt_tokens=100, completion_tokens=31, model="gpt-4o-mini"),
        )
    )
    helper = Session(id="a2a-sub", parent_id="a2a-ctx")  # a grandchild that ran nothing
    caller.add_child(specialist.id)
    specialist.add_child(helper.id)
    for session in (caller, specialist, helper):
        store.save(session)
    cost = format_cost(specialist.events[0].token_usage.estimated_cost_usd)  # type: ignore[union-attr]

    rows = _agents_panel(render_report(caller, store))

    assert rows == [
        ["Session", "Agent", "Runs", "Time", "Tokens", "Cost"],
        ["trip", "coordinator", "1", "2.00 s", "0", "-"],
        ["└\xa0a2a-ctx", "weather-specialist", "1", "750 ms", "131", cost],
        ["\xa0\xa0└\xa0a2a-sub", "-", "0", "-", "0", "-"],
        ["3 sessions", "", "2", "", "131", cost],
    ]
    # The specialist's own report shows its subtree; a leaf has no such panel.
    assert [row[0] for row in _agents_panel(render_report(specialist, store))[1:-1]] == [
        "a2a-ctx",
        "└\xa0a2a-sub",
    ]
    assert 'id="agents"' not in render_report(helper, store)
