"""The SDK's hot-path shortcuts give exactly what the general code gives:
tool arguments bound without ``inspect.Signature.bind_partial``, runs built
without ``model_construct``, attributes cached per scope."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import a2a_session_manager as asm
from a2a_session_manager.exporters._trusted import trusted_run
from a2a_session_manager.models import RunStatus, SessionRun
from a2a_session_manager.sdk._tool import Tool
from a2a_session_manager.telemetry import semconv
from tests.support.otel import Recorder, clean_otel, recorder

__all__ = ["clean_otel", "recorder"]


def _plain(a: Any, b: Any = 2, *, c: Any = 3) -> None: ...
def _varargs(a: Any, *rest: Any, **extra: Any) -> None: ...
def _positional_only(a: Any, /, b: Any = 1) -> None: ...
def _method(self: Any, x: Any, y: Any = 0) -> None: ...


CALLS: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
    (_plain, (), {}),
    (_plain, (1,), {}),
    (_plain, (1, 5), {}),
    (_plain, (1,), {"c": 9}),
    (_plain, (), {"c": 9, "b": 4, "a": 1}),  # keyword order differs from parameter order
    (_plain, (1, 2), {"c": {"nested": [1, 2]}}),
    (_varargs, (1, 2, 3), {"k": 4}),
    (_positional_only, (1,), {"b": 2}),
    (_method, ("self-object", 1), {"y": 2}),
]


@pytest.mark.parametrize(("func", "args", "kwargs"), CALLS)
def test_tool_arguments_match_bind_partial(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    tool = Tool(None, None, None)
    tool._prepare(func)
    signature = inspect.signature(func)
    expected = dict(signature.bind_partial(*args, **kwargs).arguments)
    if next(iter(signature.parameters)) == "self":
        expected.pop("self", None)
    text = tool._arguments_json(args, kwargs)
    assert text == json.dumps(expected, ensure_ascii=False)
    assert list(json.loads(text)) == list(expected)  # parameter order, as bind_partial


def test_calls_the_signature_rejects_still_fail_like_bind_partial() -> None:
    tool = Tool(None, None, None)
    tool._prepare(_plain)
    for args, kwargs in [((1, 2, 3), {}), ((1,), {"a": 1}), ((), {"zzz": 1})]:
        with pytest.raises(TypeError):
            inspect.signature(_plain).bind_partial(*args, **kwargs)
        assert tool._bind(args, kwargs) is None  # falls back to bind_partial


def test_trusted_run_equals_model_construct() -> None:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": "00000000000000ab",
        "name": "agent",
        "status": RunStatus.FAILED,
        "started_at": now,
        "ended_at": now,
        "parent_run_id": None,
        "error": "ValueError: boom",
        "metadata": {},
    }
    fast = trusted_run(dict(values))
    slow = SessionRun.model_construct(**values)
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.model_dump() == slow.model_dump()
    assert repr(fast) == repr(slow)
    fast.mark_completed()  # a field assignment updates its own fields set only
    assert fast.status is RunStatus.COMPLETED and slow.status is RunStatus.FAILED
    partial = trusted_run({"id": "x", "name": "partial"})  # not every field: the slow road
    assert partial.model_fields_set == {"id", "name"}
    assert partial.status is RunStatus.PENDING and partial.metadata == {}


def test_cached_attributes_follow_the_session(recorder: Recorder) -> None:
    @asm.run("agent")
    def agent() -> None:
        search("q")

    @asm.tool
    def search(query: str) -> str:
        return query

    for session_id in ("s-a", "s-b", "s-a"):
        with asm.session(session_id):
            agent()
    agent()  # no session: the trace id names one
    spans = recorder.exporter.get_finished_spans()
    by_kind: dict[str, list[Any]] = {}
    for span in spans:
        attributes = span.attributes or {}
        by_kind.setdefault(str(attributes.get(semconv.GEN_AI_OPERATION_NAME)), []).append(
            attributes
        )
    runs = by_kind[semconv.OPERATION_INVOKE_AGENT]
    tools = by_kind[semconv.OPERATION_EXECUTE_TOOL]
    assert [a.get(semconv.SESSION_ID) for a in runs] == ["s-a", "s-b", "s-a", None]
    assert [a.get(semconv.GEN_AI_CONVERSATION_ID) for a in tools] == ["s-a", "s-b", "s-a", None]
    run_ids = [format(s.context.span_id, "016x") for s in spans if s.name == "invoke_agent agent"]
    assert [a.get(semconv.A2A_RUN_ID) for a in tools] == run_ids
    for session_id in ("s-a", "s-b"):
        stored = recorder.store.get(session_id)
        assert stored is not None
        assert all(r.status is RunStatus.COMPLETED for r in stored.runs)
        assert [e.message["arguments"] for e in stored.events] == [{"query": "q"}] * len(
            stored.runs
        )
