"""The pydantic models: lossless JSON, derived token usage, runs, hierarchy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from a2a_session_manager.models import (
    EventSource,
    EventType,
    RunStatus,
    Session,
    SessionEvent,
    SessionMetadata,
    SessionRun,
    TokenSummary,
    TokenUsage,
)
from a2a_session_manager.storage import InMemorySessionStore, SessionStoreProvider
from a2a_session_manager.tokens import count_tokens, estimate_cost


def rich_session() -> Session:
    session = Session(metadata=SessionMetadata(properties={"user": "ü1", "tags": ["a", "b"]}))
    run = SessionRun(name="planner")
    run.mark_running()
    session.runs.append(run)
    session.add_event(
        SessionEvent(message="héllo 🌍 \u200b", source=EventSource.USER, task_id=run.id)
    )
    session.add_event(
        SessionEvent(
            message={
                "content": None,
                "tool_calls": [
                    {"id": "c1", "name": "f", "arguments": {"nested": [1, {"x": None}]}}
                ],
            },
            task_id=run.id,
            token_usage=TokenUsage(
                prompt_tokens=120,
                completion_tokens=30,
                cached_input_tokens=100,
                reasoning_tokens=10,
                model="gpt-4o-mini",
                source="provider",
            ),
        )
    )
    session.add_event(
        SessionEvent(
            message=[{"k": "v"}, 1.5, True, None, "s"],
            type=EventType.TOOL_CALL,
            source=EventSource.TOOL,
            metadata={"parent_event_id": "x", "deep": {"list": [1, 2]}},
            timestamp=datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=5))),
        )
    )
    session.add_event(SessionEvent(message="custom", type="acme.checkpoint"))
    session.state["cursor"] = {"page": 3}
    return session


def test_json_round_trip_is_lossless() -> None:
    session = rich_session()
    loaded = Session.model_validate_json(session.model_dump_json())
    assert loaded.model_dump() == session.model_dump()
    assert loaded.events[0].message == "héllo 🌍 \u200b"
    assert loaded.events[1].message["tool_calls"][0]["arguments"] == {"nested": [1, {"x": None}]}
    assert loaded.events[2].message == [{"k": "v"}, 1.5, True, None, "s"]
    assert loaded.events[1].token_usage == session.events[1].token_usage
    assert loaded.token_summary == session.token_summary
    assert loaded.runs[0].status == RunStatus.RUNNING


def test_datetimes_stay_timezone_aware_and_exact() -> None:
    session = rich_session()
    loaded = Session.model_validate_json(session.model_dump_json())
    for original, copy in zip(session.events, loaded.events, strict=True):
        assert copy.timestamp.tzinfo is not None
        assert copy.timestamp == original.timestamp
    assert loaded.events[2].timestamp.utcoffset() == timedelta(hours=5)
    assert loaded.metadata.created_at.tzinfo is not None
    assert loaded.runs[0].started_at == session.runs[0].started_at
    assert session.events[0].timestamp.tzinfo is UTC


def test_custom_event_type_string_survives() -> None:
    event = SessionEvent(message="m", type="acme.checkpoint")
    assert event.type == "acme.checkpoint" and not isinstance(event.type, EventType)
    loaded = SessionEvent.model_validate_json(event.model_dump_json())
    assert loaded.type == "acme.checkpoint"
    # Known names become the enum, from strings and from JSON.
    assert SessionEvent(type="summary").type is EventType.SUMMARY
    assert SessionEvent.model_validate_json('{"type": "tool_call"}').type is EventType.TOOL_CALL


def test_token_usage_derives_total_and_cost() -> None:
    usage = TokenUsage(prompt_tokens=1000, completion_tokens=500, model="gpt-4o-mini")
    assert usage.total_tokens == 1500
    assert usage.estimated_cost_usd == pytest.approx((1000 * 0.15 + 500 * 0.60) / 1_000_000)
    assert usage.calculate_cost() == usage.estimated_cost_usd
    # A total given larger than the parts (a provider's) is kept.
    assert TokenUsage(prompt_tokens=1, completion_tokens=1, total_tokens=9).total_tokens == 9
    # A loaded record keeps the cost it was priced at.
    assert (
        TokenUsage(prompt_tokens=1000, model="gpt-4o", estimated_cost_usd=1.0).estimated_cost_usd
        == 1.0
    )
    assert TokenUsage(prompt_tokens=5).estimated_cost_usd is None  # no model, no price
    with pytest.raises(ValueError):
        TokenUsage(prompt_tokens=-1)


def test_cached_and_reasoning_tokens() -> None:
    usage = TokenUsage(
        prompt_tokens=1_000_000,
        completion_tokens=1_000_000,
        cached_input_tokens=600_000,
        reasoning_tokens=800_000,
        model="gpt-4o-mini",
    )
    # Reasoning tokens are part of the completion: billed once, not added again.
    assert usage.total_tokens == 2_000_000
    assert usage.estimated_cost_usd == pytest.approx(0.4 * 0.15 + 0.6 * 0.075 + 0.60)
    usage.update(prompt_tokens=10, completion_tokens=5, cached_input_tokens=2, reasoning_tokens=3)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        1_000_010,
        1_000_005,
        2_000_015,
    )
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (600_002, 800_003)
    assert usage.estimated_cost_usd == estimate_cost(
        "gpt-4o-mini", input_tokens=1_000_010, output_tokens=1_000_005, cached_input_tokens=600_002
    )


def test_token_usage_from_text_is_exact() -> None:
    usage = TokenUsage.from_text(
        "hello world", "The quick brown fox jumps over the lazy dog.", "gpt-4"
    )
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (2, 10, 12)
    assert usage.source == "counted"
    event = SessionEvent.create_with_tokens(message="m", prompt="hello world", completion=None)
    assert event.token_usage is not None and event.token_usage.completion_tokens == 0


def test_update_token_usage_sets_given_counts_only() -> None:
    event = SessionEvent(message="x")
    event.update_token_usage(prompt_tokens=10, completion_tokens=4, model="gpt-4o")
    assert event.token_usage is not None and event.token_usage.total_tokens == 14
    event.update_token_usage(completion_tokens=6, reasoning_tokens=2)
    usage = event.token_usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == (10, 6, 2)
    assert usage.model == "gpt-4o" and usage.estimated_cost_usd == estimate_cost(
        "gpt-4o", input_tokens=10, output_tokens=6
    )


def test_add_event_keeps_the_token_summary() -> None:
    session = Session()
    session.add_event(SessionEvent(message="no usage", source=EventSource.USER))
    session.add_event(
        SessionEvent.create_with_tokens("a", prompt="hello world", completion="hi", model="gpt-4o")
    )
    session.add_event(
        SessionEvent.create_with_tokens("b", prompt="hello world", completion="hi", model="gpt-4o")
    )
    session.add_event(SessionEvent(token_usage=TokenUsage(prompt_tokens=7, model="mystery-llm")))
    summary = session.token_summary
    hi = count_tokens("hi", "gpt-4o")
    assert summary.total_prompt_tokens == 2 + 2 + 7
    assert summary.total_completion_tokens == 2 * hi
    assert session.total_tokens == summary.total_tokens == 11 + 2 * hi
    per_call = estimate_cost("gpt-4o", input_tokens=2, output_tokens=hi)
    assert per_call is not None
    assert session.total_cost == pytest.approx(2 * per_call)  # the unpriced model adds nothing
    assert summary.usage_by_model["gpt-4o"].prompt_tokens == 4
    assert summary.usage_by_model["gpt-4o"].estimated_cost_usd == pytest.approx(2 * per_call)
    assert summary.usage_by_model["mystery-llm"].estimated_cost_usd is None
    # The summary is recomputed for events given at construction (a loaded document).
    rebuilt = Session(events=session.events)
    assert rebuilt.token_summary.model_dump() == summary.model_dump()


def test_summary_does_not_alias_the_first_usage() -> None:
    usage = TokenUsage(prompt_tokens=1, completion_tokens=1, model="gpt-4o")
    summary = TokenSummary()
    summary.add_usage(usage)
    summary.add_usage(usage)
    assert usage.prompt_tokens == 1 and summary.usage_by_model["gpt-4o"].prompt_tokens == 2


def test_usage_by_source_and_by_run() -> None:
    session = Session()
    run_a, run_b = SessionRun(name="a"), SessionRun(name="b")
    session.runs += [run_a, run_b]
    session.add_event(
        SessionEvent(
            source=EventSource.LLM,
            task_id=run_a.id,
            token_usage=TokenUsage(prompt_tokens=10, model="gpt-4o"),
        )
    )
    session.add_event(
        SessionEvent(
            source=EventSource.LLM,
            task_id=run_b.id,
            token_usage=TokenUsage(prompt_tokens=20, model="gpt-4o"),
        )
    )
    session.add_event(
        SessionEvent(
            source=EventSource.TOOL,
            task_id=run_b.id,
            token_usage=TokenUsage(completion_tokens=5, model="gpt-4o"),
        )
    )
    session.add_event(
        SessionEvent(source=EventSource.USER, token_usage=TokenUsage(prompt_tokens=1))
    )
    by_source = session.usage_by_source()
    assert {k: v.total_tokens for k, v in by_source.items()} == {"llm": 30, "tool": 5, "user": 1}
    by_run = session.usage_by_run()
    assert {k: v.total_tokens for k, v in by_run.items()} == {run_a.id: 10, run_b.id: 25}
    assert [e.task_id for e in session.events_for_run(run_b.id)] == [run_b.id, run_b.id]


def test_run_status_transitions() -> None:
    run = SessionRun(name="r")
    assert run.status == RunStatus.PENDING and not run.is_finished and run.duration_seconds is None
    run.mark_running()
    assert run.status == RunStatus.RUNNING and run.ended_at is None
    run.mark_completed()
    assert run.status == RunStatus.COMPLETED and run.is_finished
    assert run.duration_seconds is not None and run.duration_seconds >= 0
    failed = SessionRun()
    failed.mark_running()
    failed.mark_failed(ValueError("bad input"))
    assert failed.status == RunStatus.FAILED and failed.error == "ValueError: bad input"
    failed.mark_running()  # a retry reopens the run
    assert failed.ended_at is None and not failed.is_finished
    cancelled = SessionRun()
    cancelled.mark_cancelled()
    assert cancelled.status == RunStatus.CANCELLED and cancelled.is_finished
    text = SessionRun()
    text.mark_failed("plain message")
    assert text.error == "plain message"
    assert RunStatus("completed") is RunStatus.COMPLETED


def test_active_run_is_the_latest_running_one() -> None:
    session = Session()
    first, second = SessionRun(), SessionRun()
    session.runs += [first, second]
    assert session.active_run is None
    first.mark_running()
    second.mark_running()
    assert session.active_run is second
    second.mark_completed()
    assert session.active_run is first


def test_constructors_have_no_side_effects() -> None:
    store = InMemorySessionStore()
    SessionStoreProvider.set_store(store)
    parent = Session()
    child = Session(parent_id=parent.id)
    SessionEvent(message="x")
    Session.model_validate_json(child.model_dump_json())
    assert store.list_sessions() == []
    assert parent.child_ids == [] and child.parent_id == parent.id


def _chain(store: InMemorySessionStore) -> tuple[Session, Session, Session, Session]:
    root = Session(id="root")
    store.save(root)
    mid = Session(id="mid", parent_id="root")
    store.save(mid)
    leaf = Session(id="leaf", parent_id="mid")
    store.save(leaf)
    sibling = Session(id="sibling", parent_id="root")
    store.save(sibling)
    return root, mid, leaf, sibling


def test_ancestors_and_descendants_read_through_the_store() -> None:
    store = InMemorySessionStore()
    root, mid, leaf, _sibling = _chain(store)
    assert [s.id for s in leaf.ancestors(store)] == ["mid", "root"]
    assert root.ancestors(store) == []
    assert [s.id for s in root.descendants(store)] == ["mid", "sibling", "leaf"]
    assert [s.id for s in mid.descendants(store)] == ["leaf"]
    # Without an argument, the application's store is used.
    SessionStoreProvider.set_store(store)
    assert [s.id for s in leaf.ancestors()] == ["mid", "root"]
    assert [s.id for s in root.descendants()] == ["mid", "sibling", "leaf"]


def test_hierarchy_survives_missing_sessions_and_cycles() -> None:
    store = InMemorySessionStore()
    orphan = Session(id="orphan", parent_id="gone")
    assert orphan.ancestors(store) == []
    a = Session(id="a", parent_id="b")
    b = Session(id="b", parent_id="a")
    store.save(a)
    store.save(b)
    assert [s.id for s in a.ancestors(store)] == ["b"]
    assert [s.id for s in a.descendants(store)] == ["b"]


def test_child_bookkeeping() -> None:
    session = Session()
    session.add_child("c1")
    session.add_child("c1")
    session.add_child("c2")
    session.remove_child("c1")
    session.remove_child("absent")
    assert session.child_ids == ["c2"]


def test_metadata_properties_touch_updated_at() -> None:
    meta = SessionMetadata()
    before = meta.updated_at
    meta.set_property("k", {"v": 1})
    assert meta.get_property("k") == {"v": 1} and meta.get_property("x", 5) == 5
    assert meta.updated_at >= before and meta.created_at <= meta.updated_at


def test_count_message_tokens_on_session() -> None:
    session = Session()
    assert session.count_message_tokens("hello world") == 2
    assert session.count_message_tokens([{"role": "user", "content": "hello world"}]) == 9


def test_naive_times_are_taken_as_utc() -> None:
    # Old JSON and user code can carry naive times; mixing them with aware
    # ones would make every comparison (ordering, merging metadata) raise.
    event = SessionEvent.model_validate_json('{"timestamp": "2025-01-01T00:00:00"}')
    assert event.timestamp == datetime(2025, 1, 1, tzinfo=UTC)
    meta = SessionMetadata(created_at=datetime(2025, 1, 1), updated_at=datetime(2025, 1, 2))
    assert meta.created_at.tzinfo is UTC and meta.created_at < SessionMetadata().created_at
    run = SessionRun(started_at=datetime(2025, 1, 1), ended_at=datetime(2025, 1, 1, 0, 1))
    assert run.duration_seconds == 60.0
    store = InMemorySessionStore()
    store.save(Session(id="s", metadata=meta))
    store.save(Session(id="s"))  # merging with an aware time must not raise
    loaded = store.get("s")
    assert loaded is not None and loaded.metadata.created_at == datetime(2025, 1, 1, tzinfo=UTC)
