"""The tool processor under hung tools and hostile arguments (issue 10): a hung
sync tool never keeps the process alive nor starves later calls, and no
argument, however deep, escapes as anything but a retry or
``ToolProcessingError``."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import a2a_session_manager as asm
from a2a_session_manager.models import RunStatus
from a2a_session_manager.models.json_values import MAX_DEPTH
from a2a_session_manager.session_aware_tool_processor import (
    SessionAwareToolProcessor,
    ToolProcessingError,
)
from a2a_session_manager.storage import create_file_session_store
from a2a_session_manager.tools import INVALID_TOOL_CALL, parse_reply
from a2a_session_manager.tools._daemon_threads import running_after_their_call
from a2a_session_manager.tools._parsing import MAX_ARGUMENT_DEPTH
from tests.support.otel import Recorder, clean_otel, recorder
from tests.support.processes import stop_process

__all__ = ["clean_otel", "recorder"]

HUNG_TOOL_SCRIPT = Path(__file__).parent / "support" / "hung_sync_tool.py"
WAIT = 30.0  # deadlock guard, never a measured duration
DEEP = 100_000


def call(name: str, arguments: Any) -> dict[str, Any]:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"type": "function", "function": {"name": name, "arguments": raw}}


def reply(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": list(calls)}


def echo(x: Any = None) -> str:
    return "ran"


def nested_text(levels: int) -> str:
    """``{"x": [[...]]}``: an object holding arrays, ``levels`` deep in all."""
    return '{"x": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def nested_mapping(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels - 1):
        node["x"] = {}
        node = node["x"]
    return root


# -- hung sync tools --------------------------------------------------------------------


def test_a_process_whose_sync_tool_hangs_still_exits_after_the_timeout() -> None:
    process = subprocess.Popen(
        [sys.executable, str(HUNG_TOOL_SCRIPT), "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The hang guard: exiting within it is the assertion (a joined worker never exits).
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the interpreter did not exit: the hung tool's thread keeps it alive")
    finally:
        stop_process(process)  # type: ignore[arg-type]
    assert process.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result == {
        "tool": "hangs_forever",
        "error_type": "ToolTimeoutError",
        "error": "ToolTimeoutError: tool 'hangs_forever' timed out after 0.5 s",
    }


async def test_17_hung_sync_tools_never_starve_a_fast_tool(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    hung = 17  # one more than max_concurrency (16) and the worker pool it once had

    def hangs() -> str:
        release.wait(WAIT * 4)
        return "late"

    processor = SessionAwareToolProcessor(
        "tp-hung", tools={"hangs": hangs, "echo": echo}, timeout=1.0, max_concurrency=16
    )
    before = running_after_their_call()
    try:
        with caplog.at_level(logging.WARNING, logger="a2a_session_manager.tools"):
            first = await processor.process_llm_message(reply(*[call("hangs", {})] * hung))
        assert [r.error_type for r in first] == ["ToolTimeoutError"] * hung
        assert running_after_their_call() >= before + hung
        given_up = [r for r in caplog.records if "given up on while still running" in r.message]
        assert len(given_up) == hung

        (fast,) = await processor.process_llm_message(reply(call("echo", {"x": 1})))
        assert (fast.result, fast.error) == ("ran", None)
    finally:
        release.set()
    # The hung threads end once released, and are no longer counted.
    deadline = asyncio.get_running_loop().time() + WAIT
    while running_after_their_call() > before and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert running_after_their_call() == before


async def test_a_sync_tools_thread_carries_the_tool_span_and_context_vars(
    recorder: Recorder,
) -> None:
    seen: dict[str, Any] = {}

    def inspects() -> str:
        seen["session"] = asm.current_session_id()
        seen["run"] = asm.current_run_id()
        seen["thread"] = threading.current_thread()
        return "ok"

    processor = SessionAwareToolProcessor("tp-thread", tools={"inspects": inspects})
    (result,) = await processor.process_llm_message(reply(call("inspects", {})))
    assert result.result == "ok"
    assert seen["session"] == "tp-thread"
    session = recorder.store.get("tp-thread")
    assert session is not None and seen["run"] == session.runs[0].id
    assert seen["thread"].daemon and seen["thread"] is not threading.main_thread()


# -- hostile arguments ------------------------------------------------------------------


def test_deep_json_becomes_a_problem_never_an_exception() -> None:
    too_deep = f"arguments nest deeper than {MAX_ARGUMENT_DEPTH} levels"
    deep_array = "[" * DEEP + "]" * DEEP
    deep_object = '{"x": ' * DEEP + "1" + "}" * DEEP
    for raw in (deep_array, deep_object, nested_text(MAX_ARGUMENT_DEPTH + 1)):
        parsed = parse_reply(reply(call("echo", raw)))
        assert not parsed.valid
        (problem,) = parsed.problems
        assert problem.startswith(f"tool call 0 (echo): {too_deep}") and len(problem) < 500

    function = {"name": "echo", "arguments": nested_mapping(DEEP)}
    as_mapping = {"type": "function", "function": function}
    assert parse_reply(reply(as_mapping)).problems == [f"tool call 0 (echo): {too_deep}"]
    assert parse_reply(deep_array).problems == ["the reply is JSON nested too deeply to parse"]

    at_limit = parse_reply(reply(call("echo", nested_text(MAX_ARGUMENT_DEPTH))))
    assert at_limit.valid


async def test_deep_arguments_are_retried_then_fail_with_tool_processing_error(
    recorder: Recorder,
) -> None:
    deep = '{"x": ' * DEEP + "1" + "}" * DEEP

    async def llm(prompt: str) -> Any:
        return "[" * DEEP + "]" * DEEP  # the retry's reply: JSON text nested past any parser

    processor = SessionAwareToolProcessor("tp-deep", tools={"echo": echo}, max_llm_retries=1)
    with pytest.raises(ToolProcessingError) as caught:
        await processor.process_llm_message(reply(call("echo", deep)), llm)
    assert caught.value.attempts == 2
    assert caught.value.problems == ["the reply is JSON nested too deeply to parse"]
    session = recorder.store.get("tp-deep")
    assert session is not None
    assert sum(e.type == INVALID_TOOL_CALL for e in session.events) == 2
    assert session.runs[0].status is RunStatus.FAILED


async def test_deep_arguments_are_retried_and_a_good_reply_then_runs(recorder: Recorder) -> None:
    deep = '{"x": ' * DEEP + "1" + "}" * DEEP

    async def llm(prompt: str) -> Any:
        return reply(call("echo", {"x": 1}))

    processor = SessionAwareToolProcessor("tp-deep-retry", tools={"echo": echo})
    (result,) = await processor.process_llm_message(reply(call("echo", deep)), llm)
    assert result.result == "ran"
    session = recorder.store.get("tp-deep-retry")
    assert session is not None
    (rejected,) = [e for e in session.events if e.type == INVALID_TOOL_CALL]
    assert rejected.metadata["problems"][0].startswith("tool call 0 (echo): arguments nest deeper")


async def test_arguments_at_the_depth_limit_run_and_their_session_reads_back(
    clean_otel: None, tmp_path: Path
) -> None:
    handle = asm.configure(store=create_file_session_store(tmp_path))
    try:
        processor = SessionAwareToolProcessor("tp-depth-limit", tools={"echo": echo})
        raw = nested_text(MAX_ARGUMENT_DEPTH)
        (result,) = await processor.process_llm_message(reply(call("echo", raw)))
    finally:
        handle.shutdown()
    assert result.result == "ran"
    reread = create_file_session_store(tmp_path).get("tp-depth-limit")
    assert reread is not None
    (tool_event,) = [e for e in reread.events if e.type == "tool_call"]
    assert tool_event.message["arguments"] == json.loads(raw)


async def test_a_result_nested_100000_deep_is_returned_and_recorded_safely(
    recorder: Recorder,
) -> None:
    deep = nested_mapping(DEEP)

    def gives_deep() -> dict[str, Any]:
        return deep

    processor = SessionAwareToolProcessor("tp-deep-result", tools={"gives_deep": gives_deep})
    (result,) = await processor.process_llm_message(reply(call("gives_deep", {})))
    assert result.result is deep and result.error is None
    session = recorder.store.get("tp-deep-result")
    assert session is not None
    (tool_event,) = [e for e in session.events if e.type == "tool_call"]
    # Kept to the depth limit, the rest stored as a marked placeholder.
    placeholder = tool_event.message["result"]
    for _ in range(MAX_DEPTH):
        placeholder = placeholder["x"]
    assert placeholder == {
        "__unencodable__": {"type": "dict", "repr": f"<nested deeper than {MAX_DEPTH} levels>"}
    }
