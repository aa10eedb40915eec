"""The README's own examples run as written (the OpenAI client pointed at the
local OpenAI-compatible server through its standard environment variables)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from a2a_session_manager.testing import LocalOpenAIServer

README = Path(__file__).resolve().parents[1] / "README.md"


def _section_code(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, heading
    return blocks[0]


@pytest.mark.usefixtures("clean_otel")
def test_record_an_agent_then_build_the_next_prompt(
    openai_server: LocalOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor

    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.chdir(tmp_path)
    ns: dict[str, Any] = {"__name__": "__readme__"}
    try:
        exec(compile(_section_code("Record an agent in five lines"), "README", "exec"), ns)
        session = ns["session"]
        assert [e.source.value for e in session.events] == ["user", "llm"]
        assert session.total_tokens > 0 and session.total_cost > 0
        assert session.metadata.properties == {"user": "u1"}
        assert session.runs[0].name == "weather-agent"
        assert capsys.readouterr().out.strip()

        exec(
            compile(
                _section_code("Build the next prompt from what was recorded"), "README", "exec"
            ),
            ns,
        )
        assert ns["messages"][0] == {"role": "user", "content": "What's the weather in Paris?"}
        assert openai_server.requests[-1].body["messages"] == ns["messages"]  # accepted
    finally:
        OpenAIInstrumentor().uninstrument()


def test_original_api_example(capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(_section_code("The original API"), "README", "exec"), {"__name__": "__readme__"})
    assert int(capsys.readouterr().out.strip()) > 0


def test_readme_agent_and_prompt_type_check_under_mypy_strict(tmp_path: Path) -> None:
    """What users hold is typed: ``with asm.session() as s`` binds a handle, and
    ``build_prompt_from_session`` feeds the openai client's ``messages=``."""
    root = README.parent
    code = "\n".join(
        _section_code(heading)
        for heading in (
            "Record an agent in five lines",
            "Build the next prompt from what was recorded",
        )
    )
    code += """
from typing import assert_type
from openai.types.chat import ChatCompletionMessageParam
from a2a_session_manager.sdk import ActiveRun, ActiveSession, ActiveTool

assert_type(messages, list[ChatCompletionMessageParam])
with asm.session("s-typed") as s, asm.run("r") as r, asm.tool("t") as t:
    assert_type(s, ActiveSession)
    assert_type(r, ActiveRun)
    assert_type(t, ActiveTool)
"""
    snippet = tmp_path / "readme_snippet.py"
    snippet.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--config-file", str(root / "pyproject.toml")),
            *("--cache-dir", str(root / ".mypy_cache"), str(snippet)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(root)},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
