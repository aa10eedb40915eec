"""Values that cannot be encoded are stored as counted placeholders; nothing
else of the session is lost, in every store (memory, files, a real Redis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.models import EventSource, RunStatus, Session, SessionEvent
from a2a_session_manager.models.json_values import (
    MAX_DEPTH,
    STORED_DEPTH,
    UNENCODABLE_KEY,
    json_safe,
)
from a2a_session_manager.sdk._configure import current_handle
from a2a_session_manager.storage import SessionStore, create_store
from a2a_session_manager.storage.serialization import events_from_json_lines
from a2a_session_manager.telemetry._json import to_json_text, unencodable_count
from tests.support.otel import clean_otel

__all__ = ["clean_otel"]


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")

    __str__ = __repr__


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, dict) and "a" in value:
        value, depth = value["a"], depth + 1
    return depth


def cycle() -> dict[str, Any]:
    value: dict[str, Any] = {"name": "loop"}
    value["self"] = value
    return value


HOSTILE: dict[str, Any] = {
    "raising repr": RaisingRepr(),
    "huge int": 10**5000,
    "nan": float("nan"),
    "at the limit": nested(MAX_DEPTH),
    "just beyond": nested(MAX_DEPTH + 1),
    "written but unreadable before": nested(230),
    "dropped the batch before": nested(400),
    "far too deep": nested(5000),
    "cycle": cycle(),
    "odd keys": {(1, 2): "tuple", RaisingRepr(): "raising", 3: "int"},
    "surrogate": "a\ud800b",
}


def placeholders(value: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if UNENCODABLE_KEY in item:
                found.append(item[UNENCODABLE_KEY])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@pytest.fixture(params=["memory", "file", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    if request.param == "memory":
        yield create_store("memory://")
    elif request.param == "file":
        yield create_store(f"file://{tmp_path}")
    else:
        yield create_store(request.getfixturevalue("redis_url"))


@pytest.fixture
def configured(store: SessionStore, clean_otel: None) -> Iterator[SessionStore]:
    provider = TracerProvider()
    handle = asm.configure(store=store, tracer_provider=provider)
    yield store
    handle.shutdown()
    provider.shutdown()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_values_through_the_sdk_become_placeholders(
    configured: SessionStore, name: str
) -> None:
    value = HOSTILE[name]

    @asm.tool
    def hostile_tool() -> Any:
        return value

    before = unencodable_count()
    with asm.session("s-hostile"), asm.run("agent"):
        asm.record_event("before", source=EventSource.USER)
        asm.record_event(value, source=EventSource.SYSTEM)
        hostile_tool()
        asm.record_event("after", source=EventSource.USER)

    stored = configured.get("s-hostile")
    assert stored is not None
    assert [r.status for r in stored.runs] == [RunStatus.COMPLETED]
    texts = [e.message for e in stored.events if e.source == EventSource.USER]
    assert texts == ["before", "after"]
    recorded = [e.message for e in stored.events if e.source == EventSource.SYSTEM]
    assert len(recorded) == 1
    tools = [e.message for e in stored.events if e.type == "tool_call"]
    assert len(tools) == 1 and tools[0]["tool_name"] == "hostile_tool"
    if name in ("at the limit", "surrogate"):
        assert placeholders(recorded[0]) == []
        if name == "at the limit":
            assert depth_of(recorded[0]) == MAX_DEPTH - 1
    elif name == "odd keys":
        assert set(recorded[0]) == {"(1, 2)", "<repr failed: RuntimeError>", "3"}
    else:
        found = placeholders(recorded[0]) + placeholders(tools[0]["result"])
        assert len(found) == 2, found
        assert unencodable_count() >= before + 2
        assert all(p["type"] and p["repr"] for p in found)
        handle = current_handle()
        assert handle is not None
        assert handle.stats()["unencodable_values"] >= before + 2


def test_hand_saved_hostile_values_keep_their_batch_mates(configured: SessionStore) -> None:
    """``store.save`` of values the SDK never saw: one event per value, all in
    one batch, with innocent events around them."""
    events = [SessionEvent(message="first", source=EventSource.USER)]
    events += [SessionEvent(message=v, metadata={"case": k}) for k, v in HOSTILE.items()]
    events.append(SessionEvent(message="last", source=EventSource.USER))
    configured.save(Session(id="s-saved", events=events))

    stored = configured.get("s-saved")
    assert stored is not None
    assert [e.id for e in stored.events] == [e.id for e in events]
    assert stored.events[0].message == "first" and stored.events[-1].message == "last"
    by_case = {e.metadata.get("case"): e.message for e in stored.events}
    if not isinstance(configured, type(create_store("memory://"))):
        # Text stores keep what reads back: deep values cut at the limit.
        assert placeholders(by_case["raising repr"])
        assert placeholders(by_case["dropped the batch before"])
        cut = by_case["written but unreadable before"]
        assert depth_of(cut) == STORED_DEPTH and placeholders(cut)
        assert placeholders(by_case["at the limit"]) == []


def test_json_safe_cuts_at_the_one_depth_limit() -> None:
    kept = json_safe(nested(MAX_DEPTH))
    assert placeholders(kept) == []
    cut = json_safe(nested(MAX_DEPTH + 1))
    assert placeholders(cut) == [
        {"type": "dict", "repr": f"<nested deeper than {MAX_DEPTH} levels>"}
    ]
    assert json.loads(to_json_text(nested(100_000)))  # no RecursionError anywhere


def test_json_safe_returns_json_values_unchanged() -> None:
    value = {"a": [1, 2.5, "x", None, True, {"b": []}]}
    assert json_safe(value) is value


def test_documents_older_versions_wrote_still_read() -> None:
    """Lines nested past the reader's limit, with huge integers or NaN (as
    earlier versions wrote them) read back with placeholders."""
    deep = "[" * 230 + "]" * 230
    lines = [
        '{"id": "e1", "message": ' + deep + "}",
        '{"id": "e2", "message": ' + "9" * 5000 + "}",
        '{"id": "e3", "message": [NaN, ' + deep + "]}",
        '{"id": "e4", "message": "fine"}',
    ]
    events = events_from_json_lines(lines)
    assert [e.id for e in events] == ["e1", "e2", "e3", "e4"]
    assert placeholders(events[0].message)
    assert placeholders(events[1].message) == [{"type": "int", "repr": "<int of 5000 digits>"}]
    assert sorted(p["type"] for p in placeholders(events[2].message)) == ["float", "list"]
    assert events[3].message == "fine"
