"""Every Python snippet of the original library's README runs verbatim.

The snippets are read from tests/data/ORIGINAL-README.md (a copy of the
seed README) and executed in order in one namespace, as a reader following
the README would. The harness only supplies what the README itself leaves
to the reader: the `session_id` it says to "get", the `SessionRun` import it
forgot, "your" tool package and LLM call, and a Redis server (the snippet's
`port=6379` is pointed at the test's own redis-server).
"""

from __future__ import annotations

import asyncio
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).parent / "data" / "ORIGINAL-README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _titles() -> list[str]:
    text = README.read_text(encoding="utf-8")
    titles = []
    for match in re.finditer(r"```python\n", text):
        heading = re.findall(r"^#+ (.+)$", text[: match.start()], re.M)
        titles.append(heading[-1].strip() if heading else "snippet")
    return titles


TITLES = _titles()


def _install_your_tool_package() -> None:
    """The README imports `ToolProcessor` from "your tool execution framework"."""
    module = types.ModuleType("your_tool_package")

    class ToolProcessor:  # the user's framework; the snippet only imports it
        pass

    module.ToolProcessor = ToolProcessor  # type: ignore[attr-defined]
    sys.modules["your_tool_package"] = module


def _run_block(index: int, code: str, ns: dict[str, Any], redis_port: int | None) -> None:
    title = TITLES[index]
    if "create_redis_session_store(" in code:
        assert redis_port is not None
        code = code.replace("port=6379", f"port={redis_port}")
    if title == "Session Runs":
        from a2a_session_manager.models.session_run import SessionRun

        ns["SessionRun"] = SessionRun
    if title == "Prompt Builder":
        ns["store"].save(ns["session"])  # the session the reader would "get"
        ns["session_id"] = ns["session"].id
    if "await " in code:
        _install_your_tool_package()

        async def call_llm_with_prompt(prompt: str) -> dict[str, Any]:
            return {"role": "assistant", "content": "no tool needed"}

        ns["call_llm_with_prompt"] = call_llm_with_prompt
        body = "\n".join("    " + line for line in code.splitlines())
        exec(
            compile(f"async def __snippet__():\n{body}\n    return locals()", README.name, "exec"),
            ns,
        )
        ns.update(asyncio.run(ns["__snippet__"]()))
        return
    exec(compile(code, f"{README.name}:{title}", "exec"), ns)


@pytest.mark.parametrize("upto", range(len(BLOCKS)), ids=[t.replace(" ", "-") for t in TITLES])
def test_readme_snippets_run_in_order(
    upto: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.chdir(tmp_path)
    needs_redis = any("create_redis_session_store(" in b for b in BLOCKS[: upto + 1])
    port = request.getfixturevalue("redis_server").port if needs_redis else None
    if "await " in BLOCKS[upto]:
        import a2a_session_manager as asm

        @asm.tool
        def get_weather(location: str) -> dict[str, Any]:
            return {"location": location, "forecast": "sunny"}

    ns: dict[str, Any] = {"__name__": "__readme__"}
    for index in range(upto + 1):
        _run_block(index, BLOCKS[index], ns, port)

    title = TITLES[upto]
    if title == "Quick Start":
        assert ns["retrieved_session"].id == ns["session"].id
        assert len(ns["retrieved_session"].events) == 2
        assert ns["retrieved_session"].total_tokens == ns["llm_event"].token_usage.total_tokens > 0
    elif title == "File-Based Storage":
        assert (tmp_path / "sessions").is_dir()
    elif title == "Token Usage Tracking":
        usage = ns["event"].token_usage
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
        assert usage.estimated_cost_usd is not None and usage.estimated_cost_usd > 0
    elif title == "Hierarchical Sessions":
        assert [s.id for s in ns["ancestors"]] == [ns["parent"].id]
        assert {s.id for s in ns["descendants"]} == {ns["child1"].id, ns["child2"].id}
    elif title == "Session Runs":
        assert ns["run"].status.value == "completed"
        assert ns["session"].events[-1].task_id == ns["run"].id
    elif title == "Prompt Builder":
        for name in (
            "minimal_prompt",
            "conversation_prompt",
            "tool_focused_prompt",
            "hierarchical_prompt",
            "truncated_prompt",
        ):
            prompt = ns[name]
            assert isinstance(prompt, list) and prompt, name
            assert all(isinstance(m["content"], str) or m.get("tool_calls") for m in prompt)
    elif "Tool" in title:
        results = ns["results"]
        assert len(results) == 1
        assert results[0].result == {"location": "New York", "forecast": "sunny"}
