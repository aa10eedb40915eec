"""Tools registered with chuk-tool-processor (the ``[tools]`` extra) run through
the session-aware processor: the real registry, no stand-ins."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("chuk_tool_processor")

from chuk_tool_processor.models.validated_tool import ValidatedTool
from chuk_tool_processor.registry import (
    create_registry,
    get_default_registry,
    register_tool,
    reset_registry,
)
from chuk_tool_processor.registry.auto_register import register_fn_tool

from a2a_session_manager.models import EventSource
from a2a_session_manager.session_aware_tool_processor import (
    SessionAwareToolProcessor,
    ToolProcessingError,
)
from tests.support.otel import Recorder, clean_otel, recorder

__all__ = ["clean_otel", "recorder"]


def reply(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "tool_calls": [
            {"type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for name, args in calls
        ],
    }


@pytest.fixture
async def chuk_default_registry() -> AsyncIterator[Any]:
    await reset_registry()
    yield await get_default_registry()
    await reset_registry()


class Adder:
    """Adds two numbers (a chuk tool class with an async execute)."""

    async def execute(self, a: int, b: int) -> int:
        return a + b


class Temperature(ValidatedTool):
    """A pydantic-validated chuk tool."""

    class Arguments(ValidatedTool.Arguments):
        city: str

    class Result(ValidatedTool.Result):
        celsius: float

    async def _execute(self, *, city: str) -> dict[str, float]:
        return {"celsius": {"Oslo": -3.5}.get(city, 20.0)}


async def test_tools_in_chuks_default_registry_are_found_and_recorded(
    recorder: Recorder, chuk_default_registry: Any
) -> None:
    def slugify(text: str) -> str:  # a plain sync function, as register_fn_tool takes it
        return text.lower().replace(" ", "-")

    await chuk_default_registry.register_tool(Adder, name="chuk_add")
    await chuk_default_registry.register_tool(
        Temperature(), name="temperature", namespace="weather"
    )
    await register_fn_tool(slugify, name="slugify")

    processor = SessionAwareToolProcessor("chuk-1")
    message = reply(
        ("chuk_add", {"a": 2, "b": 3}),
        ("weather.temperature", {"city": "Oslo"}),
        ("temperature", {"city": "Bergen"}),  # found in its namespace by name alone
        ("slugify", {"text": "Hello World"}),
    )
    results = await processor.process_llm_message(message)

    assert [r.error for r in results] == [None, None, None, None]
    assert results[0].result == 5
    assert results[1].result.celsius == -3.5
    assert results[2].result.celsius == 20.0
    assert results[3].result == "hello-world"
    session = recorder.store.get("chuk-1")
    assert session is not None
    (llm,) = [e for e in session.events if e.source is EventSource.LLM]
    tool_events = [e for e in session.events if e.type == "tool_call"]
    assert sorted(e.message["tool_name"] for e in tool_events) == [
        "chuk_add",
        "slugify",
        "temperature",
        "weather.temperature",
    ]
    assert all(e.metadata["parent_event_id"] == llm.id for e in tool_events)
    assert all(e.task_id == session.runs[0].id for e in tool_events)
    by_name = {e.message["tool_name"]: e.message["result"] for e in tool_events}
    assert by_name["weather.temperature"] == {"celsius": -3.5}  # pydantic results as JSON


async def test_decorated_chuk_classes_and_argument_checks(
    recorder: Recorder, chuk_default_registry: Any
) -> None:
    @register_tool(name="chuk_greet")
    class Greet:
        async def execute(self, name: str, punctuation: str = "!") -> str:
            return f"hello {name}{punctuation}"

    async def scale(value: float, factor: float) -> float:
        return value * factor

    await register_fn_tool(scale, name="chuk_scale")
    processor = SessionAwareToolProcessor("chuk-2")
    results = await processor.process_llm_message(
        reply(
            ("chuk_greet", {"name": "Ada"}),
            ("chuk_greet", {"nom": "Ada"}),  # the class's signature rejects it
            ("chuk_scale", {"value": 2.0}),  # the schema register_fn_tool recorded rejects it
            ("chuk_scale", {"value": 2.0, "factor": 1.5}),
        )
    )
    assert results[0].result == "hello Ada!"
    assert results[1].error_type == "ToolArgumentsError"
    assert results[2].error_type == "ToolArgumentsError"
    assert "missing a required argument: 'factor'" in (results[2].error or "")
    assert results[3].result == 3.0


async def test_validation_errors_of_chuk_tools_are_error_results(
    recorder: Recorder, chuk_default_registry: Any
) -> None:
    await chuk_default_registry.register_tool(Temperature(), name="temp_strict")
    processor = SessionAwareToolProcessor("chuk-3")
    (result,) = await processor.process_llm_message(reply(("temp_strict", {"city": ["x"]})))
    assert result.error_type == "ToolValidationError"
    session = recorder.store.get("chuk-3")
    assert session is not None
    (event,) = [e for e in session.events if e.type == "tool_call"]
    assert event.message["error"] == result.error


async def test_an_explicit_chuk_registry_and_turning_chuk_off(
    recorder: Recorder, chuk_default_registry: Any
) -> None:
    isolated = create_registry()
    await isolated.register_tool(Adder, name="isolated_add")

    processor = SessionAwareToolProcessor("chuk-4", chuk_registry=isolated)
    (result,) = await processor.process_llm_message(reply(("isolated_add", {"a": 1, "b": 1})))
    assert result.result == 2

    # not in the default registry, and not looked up at all when chuk is off
    with pytest.raises(ToolProcessingError, match="unknown tool 'isolated_add'"):
        await SessionAwareToolProcessor("chuk-4", max_llm_retries=0).process_llm_message(
            reply(("isolated_add", {"a": 1, "b": 1}))
        )
    await chuk_default_registry.register_tool(Adder, name="default_add")
    off = SessionAwareToolProcessor("chuk-4", use_chuk_registry=False, max_llm_retries=0)
    with pytest.raises(ToolProcessingError, match="unknown tool 'default_add'"):
        await off.process_llm_message(reply(("default_add", {"a": 1, "b": 1})))


async def test_a_chuk_tools_declared_timeout_applies(
    recorder: Recorder, chuk_default_registry: Any
) -> None:
    import asyncio

    class Stuck:
        async def execute(self) -> None:
            await asyncio.Event().wait()

    await chuk_default_registry.register_tool(Stuck, name="stuck", metadata={"timeout": 0.1})
    processor = SessionAwareToolProcessor("chuk-5", timeout=None)  # no processor-wide limit
    (result,) = await processor.process_llm_message(reply(("stuck", {})))
    assert result.error == "ToolTimeoutError: tool 'stuck' timed out after 0.1 s"
