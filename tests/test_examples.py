"""Every example runs as a real process, prints what it says, and records what
it prints: the stores they wrote are read back here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from a2a_session_manager.models import EventSource, EventType, RunStatus, Session
from a2a_session_manager.prompts import PromptStrategy, build_prompt_from_session
from a2a_session_manager.storage import SessionStore, create_store
from a2a_session_manager.tokens import count_tokens

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HANG_GUARD = 240  # seconds: only stops a hung example; nothing is timed


def example_env(**extra: str) -> dict[str, str]:
    """The caller's environment without OpenTelemetry settings that would change
    what an example does (an OTLP endpoint, a disabled SDK)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_example(name: str, *args: str, **env: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=ROOT,
        env=example_env(**env),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert completed.returncode == 0, (
        f"{name} exited {completed.returncode}\n--- stdout\n{completed.stdout}"
        f"\n--- stderr\n{completed.stderr}"
    )
    return completed.stdout


def file_store(path: Path) -> tuple[str, SessionStore]:
    url = f"file://{path}"
    return url, create_store(url)


def only(store: SessionStore, prefix: str) -> Session:
    ids = store.list_sessions(prefix)
    assert len(ids) == 1, ids
    session = store.get(ids[0])
    assert session is not None
    return session


def tool_events(session: Session) -> list[Any]:
    return [e for e in session.events if e.type == EventType.TOOL_CALL]


# -- the seed examples ------------------------------------------------------------


def test_session_example_records_session_run_and_child_in_a_file_store(tmp_path: Path) -> None:
    url, store = file_store(tmp_path / "sessions")
    out = run_example("session_example.py", "--store", url)

    assert "store: " + url in out
    assert "after a follow-up: 4 events" in out
    assert "[system summary] User asked for a short itinerary" in out
    ids = store.list_sessions()
    assert len(ids) == 2
    sessions = [store.get(i) for i in ids]
    parent = next(s for s in sessions if s is not None and s.parent_id is None)
    child = next(s for s in sessions if s is not None and s.parent_id is not None)
    assert child.parent_id == parent.id
    assert f"children of {parent.id}: ['{child.id}']" in out
    assert f"ancestors of {child.id}: ['{parent.id}']" in out
    assert [e.message for e in parent.events] == [
        "Plan a two-day trip to Lisbon.",
        "Day 1: Alfama and the castle. Day 2: Belém and the LX Factory.",
        "User asked for a short itinerary; answered with two days.",
        "Thanks!",
    ]
    (run,) = parent.runs
    assert (run.name, run.status) == ("trip-planner", RunStatus.COMPLETED)
    assert [e.task_id for e in parent.events] == [None, run.id, run.id, None]
    assert parent.metadata.properties == {"user": "alice", "channel": "example"}


def test_session_example_runs_unchanged_on_redis(redis_url: str) -> None:
    out = run_example("session_example.py", "--store", redis_url)

    store = create_store(redis_url)
    ids = store.list_sessions()
    assert len(ids) == 2
    assert "RedisSessionStore" in out
    parent = next(s for s in map(store.get, ids) if s is not None and s.parent_id is None)
    assert len(parent.events) == 4
    assert store.children(parent.id) and f"children of {parent.id}" in out


def test_token_tracking_example_counts_exactly_and_never_invents_prices(tmp_path: Path) -> None:
    url, store = file_store(tmp_path / "sessions")
    out = run_example("token_tracking_example.py", "--store", url)

    prompt = count_tokens("What is the capital of France?", "gpt-4o-mini")
    completion = count_tokens("The capital of France is Paris.", "gpt-4o-mini")
    assert re.search(rf"gpt-4o-mini +prompt +{prompt} +completion +{completion} ", out)
    unpriced_line = r"my-local-model +prompt +\d+ +completion +\d+ +total +\d+ +unknown price"
    assert re.search(unpriced_line, out)
    assert re.search(r"my-local-model after set_model_price: \$0\.\d+", out)

    session = only(store, "")
    usages = [e.token_usage for e in session.events if e.token_usage is not None]
    unpriced = [u for u in usages if u.estimated_cost_usd is None]
    # the call made before the price was set keeps no cost; the one after has one
    assert [u.model for u in unpriced] == ["my-local-model"]
    claude = next(u for u in usages if u.model == "claude-sonnet-4-5")
    assert (claude.prompt_tokens, claude.cached_input_tokens, claude.completion_tokens) == (
        1200,
        1024,
        300,
    )
    total = sum(u.total_tokens for u in usages)
    assert session.total_tokens == total
    assert f"= {total} tokens, ${session.total_cost:.6f}" in out
    assert re.search(r"^ +my-local-model +\d+ tokens +unknown price$", out, re.M)


def test_prompt_builder_example_prompts_are_all_accepted_by_the_server(tmp_path: Path) -> None:
    url, store = file_store(tmp_path / "sessions")
    out = run_example("session_prompt_builder.py", "--store", url)

    names = re.findall(r"^--- (.+?): \d+ messages", out, flags=re.M)
    assert {s.value for s in PromptStrategy} <= set(names)
    assert "hierarchical+parent" in names and "truncated to 60 tokens" in names
    assert out.count("server: accepted (HTTP 200)") == len(names)
    assert "REJECTED" not in out
    assert "Context from parent sessions" in out
    # the conversation strategy keeps the tool call with its result right after it
    conversation = out.split("--- conversation:")[1].split("---")[0]
    assert re.search(r'assistant calls get_weather\n +tool +\{"forecast": "sunny"', conversation)

    ids = store.list_sessions()
    assert len(ids) == 2
    child = next(s for s in map(store.get, ids) if s is not None and s.parent_id is not None)
    assert f"session {child.id} (4 events, parent {child.parent_id})" in out
    messages = build_prompt_from_session(child, PromptStrategy.CONVERSATION)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]


def test_tool_processor_example_records_runs_tool_calls_and_retries(tmp_path: Path) -> None:
    url, store = file_store(tmp_path / "sessions")
    out = run_example("session_aware_tool_processor.py", "--store", url)

    assert "get_weather({'location': 'Lyon'}) -> {'location': 'Lyon'" in out
    assert "search_flights({'origin': 'CDG', 'destination': 'LYS'}) -> ['CDG->LYS 08:15'" in out
    assert "error: ValueError: no rate for EUR->JPY" in out
    assert "convert_currency({'amount': 120, 'source': 'EUR', 'target': 'USD'}) -> 129.6" in out
    assert "ToolProcessingError after 3 replies" in out
    assert "LLM requests made by llm_call_fn: 3" in out

    session = only(store, "")
    assert [r.status for r in session.runs] == [
        RunStatus.COMPLETED,
        RunStatus.COMPLETED,
        RunStatus.FAILED,
    ]
    assert "no valid tool call in 3 LLM replies" in (session.runs[2].error or "")
    tools = tool_events(session)
    assert sorted(e.message["tool_name"] for e in tools) == [
        "convert_currency",
        "convert_currency",
        "get_weather",
        "search_flights",
    ]
    by_id = {e.id: e for e in session.events}
    for event in tools:  # each tool call is a child of the LLM reply that asked for it
        parent = by_id[event.metadata["parent_event_id"]]
        assert parent.source == EventSource.LLM
        assert event.task_id == parent.task_id
    failed = [e for e in tools if e.message.get("error")]
    assert len(failed) == 1 and "EUR->JPY" in failed[0].message["error"]
    assert sum(e.type == "llm_retry" for e in session.events) == 3


# -- the demo -----------------------------------------------------------------------


def test_decorated_agent_demo_shows_what_it_recorded() -> None:
    out = run_example("decorated_agent.py")  # the embedded in-memory store, as the demo runs

    assert "agent> Paris is sunny at 21 °C (69.8 °F); Tokyo has light rain at 17 °C." in out
    assert re.search(r"✓ weather-agent +completed", out)
    assert '↳ tool get_weather({"location": "Paris"}) → {"location": "Paris"' in out
    assert '↳ tool get_weather({"location": "Tokyo"}) → {"location": "Tokyo"' in out
    assert '↳ tool celsius_to_fahrenheit({"celsius": 21}) → 69.8' in out
    usage = re.search(r"^gpt-4o-mini +3 +0 +(\d+) +(\d+) +\d+ +\d+ +(\d+) +\$(\d+\.\d+)", out, re.M)
    assert usage is not None, out
    prompt, completion, total, cost = usage.groups()
    assert int(prompt) > 0 and int(completion) > 0
    assert int(total) == int(prompt) + int(completion)
    assert float(cost) > 0

    prompt_json = out.split("messages) ====")[1].split("\nuser> And tomorrow?")[0]
    prompt_json = prompt_json[prompt_json.index("\n") + 1 :]
    messages = json.loads(prompt_json)
    assert messages[0]["role"] == "system"
    assert messages[-1] == {"role": "user", "content": "And tomorrow?"}
    roles = [m["role"] for m in messages]
    asked_twice = ["assistant", "tool", "tool", "assistant", "tool"]
    assert roles == ["system", "user", *asked_twice, "assistant", "user"]
    assert "(the server accepted the rebuilt prompt: a valid chat request)" in out
    # 11: the rebuilt prompt is sent without tools, a change of instructions.
    final = re.search(r"session demo-weather: 2 runs, 11 events, (\d+) tokens, \$(\S+)", out)
    assert final is not None and int(final.group(1)) > int(total)


def test_decorated_agent_records_into_a_file_store_read_back_cold(tmp_path: Path) -> None:
    url, store = file_store(tmp_path / "sessions")
    run_example("decorated_agent.py", "--store", url)

    session = store.get("demo-weather")
    assert session is not None
    assert [(r.name, r.status) for r in session.runs] == [
        ("weather-agent", RunStatus.COMPLETED),
        ("follow-up", RunStatus.COMPLETED),
    ]
    assert session.metadata.properties == {"user": "demo-user"}
    llm = [e for e in session.events if e.source == EventSource.LLM]
    assert len(llm) == 4
    for event in llm:
        usage = event.token_usage
        assert usage is not None and usage.model == "gpt-4o-mini"
        assert usage.source == "provider" and usage.total_tokens > 0
        assert usage.estimated_cost_usd is not None and usage.estimated_cost_usd > 0
    tools = tool_events(session)
    assert [(e.message["tool_name"], e.message["result"]) for e in tools] == [
        ("get_weather", {"location": "Paris", "forecast": "sunny", "celsius": 21}),
        ("get_weather", {"location": "Tokyo", "forecast": "light rain", "celsius": 17}),
        ("celsius_to_fahrenheit", 69.8),
    ]
    asked = {e.id: e for e in llm}
    for event in tools:
        assert event.metadata["parent_event_id"] in asked
    users = [e.message for e in session.events if e.source == EventSource.USER]
    assert users == [
        "What's the weather in Paris and Tokyo? Give Paris in Fahrenheit too.",
        "And tomorrow?",
    ]
    assert session.total_tokens == sum(e.token_usage.total_tokens for e in llm if e.token_usage)


def test_demo_script_sets_up_without_a_browser_and_runs_the_demo() -> None:
    script = (ROOT / "scripts" / "demo.sh").read_text()
    assert re.search(r"^A2A_SKIP_BROWSER=1 .*bash scripts/setup.sh$", script, re.M)
    assert "examples/decorated_agent.py" in script
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "A2A_SKIP_BROWSER" in setup


# -- agents calling agents; OTLP ---------------------------------------------------


def test_sub_agents_example_builds_a_hierarchy_across_processes(tmp_path: Path) -> None:
    url, store = file_store(tmp_path / "sessions")
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "sub_agents.py"), "--store", url],
        cwd=ROOT,
        env=example_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=HANG_GUARD)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, f"{out}\n{err}"

    found = re.search(r"translator agent: pid (\d+), http://127\.0\.0\.1:\d+", out)
    assert found is not None, out
    translator_pid = int(found.group(1))
    assert translator_pid != process.pid
    with pytest.raises(ProcessLookupError):  # the example stopped what it started
        os.kill(translator_pid, 0)

    top = only(store, "trip-")
    researcher = only(store, "researcher-")
    checker = only(store, "fact-checker-")
    translator = only(store, "translator-")
    assert top.parent_id is None
    assert researcher.parent_id == top.id
    assert checker.parent_id == researcher.id
    assert translator.parent_id == top.id  # recorded by another process
    assert translator.parent_link == "remote-trusted"
    assert translator.metadata.properties == {"agent": "translator", "pid": translator_pid}
    assert {d.id for d in top.descendants(store)} == {researcher.id, checker.id, translator.id}
    for member, name in (
        (top, "coordinator"),
        (researcher, "researcher"),
        (checker, "fact-checker"),
        (translator, "translator"),
    ):
        assert [(r.name, r.status) for r in member.runs] == [(name, RunStatus.COMPLETED)]
        assert member.total_tokens > 0
    reply = [e.message for e in translator.events if e.source == EventSource.LLM]
    assert reply == ["(fr) Plan: Alfama on day 1, Belém on day 2."]

    tree = out.split("Session hierarchy in")[1]
    assert re.search(rf"^{top.id} .*◀$", tree, re.M)
    assert re.search(rf"^├── {researcher.id} ", tree, re.M)
    assert re.search(rf"^│   └── {checker.id} ", tree, re.M)
    assert re.search(rf"^└── {translator.id} ", tree, re.M)


def _otlp_blocks(out: str) -> tuple[str, str]:
    unset = out.split("CAPTURE_MESSAGE_CONTENT=(unset)")[1].split(
        "CAPTURE_MESSAGE_CONTENT=SPAN_ONLY"
    )[0]
    captured = out.split("CAPTURE_MESSAGE_CONTENT=SPAN_ONLY")[1]
    return unset, captured


def test_otlp_example_exports_content_only_when_allowed() -> None:
    out = run_example("otlp_export.py")
    unset, captured = _otlp_blocks(out)

    for block in (unset, captured):
        assert "span 'chat gpt-4o-mini' (service otlp-example)" in block
        assert "span 'execute_tool lookup_order'" in block
        assert "span 'invoke_agent support-agent'" in block
        assert "'gen_ai.usage.input_tokens': " in block and "'session.id': 'otlp-demo'" in block
        # the session store keeps the content either way
        assert "content kept: 'Where is my order A-1001?'" in block
    spans_unset = re.search(r"=> (\d+) spans received, (\d+) content attributes", unset)
    spans_captured = re.search(r"=> (\d+) spans received, (\d+) content attributes", captured)
    assert spans_unset is not None and spans_captured is not None
    assert int(spans_unset.group(1)) == int(spans_captured.group(1)) >= 5
    assert int(spans_unset.group(2)) == 0
    assert int(spans_captured.group(2)) >= 6
    assert "content gen_ai" not in unset
    assert 'content gen_ai.tool.call.arguments = {"order_id": "A-1001"}' in captured
    assert "Your order A-1001 has shipped." in captured


def test_translator_agent_continues_the_callers_session_and_stops_with_its_caller(
    tmp_path: Path,
) -> None:
    """The sub-agent process on its own: a caller's headers make the caller's
    session its parent (on its side only), and it exits once the caller's
    pipe closes."""
    import urllib.request

    import a2a_session_manager as asm

    url, store = file_store(tmp_path / "sessions")
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "sub_agents.py"), "--serve-translator", "--store", url],
        cwd=ROOT,
        env=example_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        port = int(process.stdout.readline())
        with asm.session("caller-session"):
            headers = asm.inject({"Content-Type": "application/json"})
        assert "caller-session" in headers["baggage"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/translate",
            data=json.dumps({"text": "Bonjour à tous"}).encode(),
            headers=dict(headers),
        )
        with urllib.request.urlopen(request, timeout=HANG_GUARD) as response:
            answer = json.loads(response.read())
        process.stdin.close()
        assert process.wait(timeout=HANG_GUARD) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert answer["parent_id"] == "caller-session"
    assert answer["text"] == "(fr) Bonjour à tous"
    child = store.get(answer["session_id"])
    assert child is not None and child.parent_id == "caller-session"
    assert child.parent_link == "remote-trusted"  # it trusts its one caller
    # the caller's session is named, never written: the link is on the child's side
    assert store.get("caller-session") is None
    assert [e.message for e in child.events] == [
        "Translate into French: Bonjour à tous",
        "(fr) Bonjour à tous",
    ]


def test_an_example_given_an_unknown_store_url_fails_clearly() -> None:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "session_example.py"), "--store", "nosuch://x"],
        cwd=ROOT,
        env=example_env(),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert completed.returncode != 0
    assert "nosuch://x" in completed.stderr


def test_two_providers_example_records_one_session_for_both_clients(tmp_path: Path) -> None:
    url, store = file_store(tmp_path / "sessions")
    out = run_example("two_providers.py", "--store", url)

    session = store.get("trip")
    assert session is not None
    llm = [e for e in session.events if e.source == EventSource.LLM]
    assert [e.metadata["provider"] for e in llm] == ["openai", "openai", "anthropic", "anthropic"]
    assert [e.message["call_id"] for e in tool_events(session)] == ["call_weather", "toolu_hotel"]
    claude = session.token_summary.usage_by_model["claude-sonnet-4-5"]
    assert (claude.prompt_tokens, claude.cache_write_input_tokens, claude.cached_input_tokens) == (
        1144 + 1204,
        1024,
        1024,
    )
    # $3 / $3.75 (cache write) / $0.30 (cache read) / $15 per million tokens
    expected = (120 * 3 + 1024 * 3.75 + 40 * 15 + 180 * 3 + 1024 * 0.3 + 12 * 15) / 1e6
    assert claude.estimated_cost_usd == pytest.approx(expected)
    assert f"claude-sonnet-4-5   2400 tokens  ${expected:.6f}" in out
    assert "Anthropic prompt rebuilt: 9 messages, accepted: Enjoy Rome!" in out
    assert "OpenAI prompt rebuilt: 10 messages, accepted" in out


def test_a2a_agents_example_records_one_tree_across_two_processes(tmp_path: Path) -> None:
    url, store = file_store(tmp_path / "sessions")
    out = run_example("a2a_agents.py", "--store", url)
    found = re.search(r"specialist agent: pid (\d+), .* \(coordinator pid (\d+)\)", out)
    assert found is not None, out
    with pytest.raises(ProcessLookupError):  # the example stopped what it started
        os.kill(int(found.group(1)), 0)

    top = only(store, "trip-")
    specialist = only(store, "a2a-")
    assert top.parent_id is None and top.child_ids == [specialist.id]
    assert specialist.parent_id == top.id and specialist.parent_link == "remote-trusted"
    [task] = specialist.runs
    assert (task.name, task.status) == ("weather-specialist", RunStatus.COMPLETED)
    # the specialist's LLM calls and tool ran in its session, inside the task's run
    assert specialist.total_tokens > 0 and top.total_tokens == 0
    [weather] = tool_events(specialist)
    assert weather.message["arguments"] == {"location": "Lisbon"}
    assert {e.task_id for e in specialist.events} == {task.id}
    # the question crossed once each way: one message id on both sides
    sent = {e.metadata["a2a"]["message_id"] for e in top.events if e.type == "a2a_message"}
    received = {
        e.metadata["a2a"]["message_id"] for e in specialist.events if e.type == "a2a_message"
    }
    assert sent and sent == received

    tree = subprocess.run(
        [sys.executable, "-m", "a2a_session_manager.cli", "--store", url, "tree", specialist.id],
        cwd=ROOT,
        env=example_env(),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=True,
    ).stdout
    assert re.search(rf"^{top.id} ", tree, re.M)
    assert re.search(rf"^└── {specialist.id} .*◀$", tree, re.M)
