"""The waterfall: runs, LLM calls and tool calls in trace order, with durations."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_run import RunStatus, SessionRun
from a2a_session_manager.reports._content import (
    aware,
    call_failure,
    event_timing,
    is_tool_call,
    llm_message,
    provider_call,
    requested_tool_calls,
    tool_call_record,
)


@dataclass(frozen=True)
class TimelineItem:
    kind: str  # "run" | "llm" | "tool"
    id: str  # run id or event id
    label: str
    start: datetime
    duration_ms: float | None  # None: an instant, or a run still going
    depth: int
    status: str  # run status, or "ok" / "error" for calls
    detail: str


def _run_item(run: SessionRun, depth: int) -> TimelineItem:
    duration = run.duration_seconds
    return TimelineItem(
        kind="run",
        id=run.id,
        label=run.name or run.id,
        start=aware(run.started_at),
        duration_ms=None if duration is None else max(duration, 0.0) * 1000.0,
        depth=depth,
        status=run.status.value if isinstance(run.status, RunStatus) else str(run.status),
        detail=run.error or ("closed early" if run.metadata.get("closed_early") else ""),
    )


def _event_item(event: SessionEvent, depth: int) -> TimelineItem | None:
    timing = event_timing(event)
    if is_tool_call(event):
        record = tool_call_record(event)
        return TimelineItem(
            kind="tool",
            id=event.id,
            label=record.tool_name,
            start=timing.start,
            duration_ms=timing.duration_ms,
            depth=depth,
            status="error" if record.error else "ok",
            detail=record.error or "",
        )
    if event.source != EventSource.LLM or provider_call(event) is None:
        return None
    usage = event.token_usage
    model = (usage.model if usage else "") or str(event.metadata.get("model", "")) or "LLM"
    calls = requested_tool_calls(event)
    message = llm_message(event)
    failure = call_failure(message) if message is not None else ""
    detail = f"{usage.total_tokens} tokens" if usage else ""
    if calls:
        names = ", ".join(c.name for c in calls)
        detail = f"{detail} · asks {names}" if detail else f"asks {names}"
    if failure:
        detail = f"{detail} · {failure}" if detail else failure
    return TimelineItem(
        kind="llm",
        id=event.id,
        label=model,
        start=timing.start,
        duration_ms=timing.duration_ms,
        depth=depth,
        status="error" if message is not None and message.error is not None else "ok",
        detail=detail,
    )


def timeline(session: Session) -> list[TimelineItem]:
    """Rows depth first: each run, then its child runs and its calls by start time.

    Events of unknown runs sit at the top level; a run whose parent is missing
    (or part of a cycle) is treated as top level too.
    """
    run_ids = {run.id for run in session.runs}
    under: dict[str | None, list[tuple[datetime, int, SessionRun | SessionEvent]]] = defaultdict(
        list
    )
    for order, run in enumerate(session.runs):
        parent = run.parent_run_id if run.parent_run_id in run_ids else None
        under[parent].append((aware(run.started_at), order, run))
    offset = len(session.runs)
    for order, event in enumerate(session.events, start=offset):
        if is_tool_call(event) or event.source == EventSource.LLM:
            owner = event.task_id if event.task_id in run_ids else None
            under[owner].append((event_timing(event).start, order, event))
    for items in under.values():
        items.sort(key=lambda item: (item[0], item[1]))

    rows: list[TimelineItem] = []
    visited: set[str] = set()
    stack: list[tuple[SessionRun | SessionEvent, int]] = [
        (obj, 0) for _, _, obj in reversed(under[None])
    ]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, SessionRun):
            if obj.id in visited:
                continue
            visited.add(obj.id)
            rows.append(_run_item(obj, depth))
            stack.extend((child, depth + 1) for _, _, child in reversed(under.get(obj.id, [])))
        else:
            item = _event_item(obj, depth)
            if item is not None:
                rows.append(item)
    # Runs only reachable through a parent cycle never met the stack: add them.
    for run in session.runs:
        if run.id not in visited:
            visited.add(run.id)
            rows.append(_run_item(run, 0))
            rows.extend(
                item
                for _, _, child in under.get(run.id, [])
                if isinstance(child, SessionEvent) and (item := _event_item(child, 1))
            )
    return rows


def timeline_bounds(session: Session, rows: list[TimelineItem]) -> tuple[datetime, datetime]:
    """The first start and last end over the rows and every event."""
    moments = [aware(e.timestamp) for e in session.events]
    for row in rows:
        moments.append(row.start)
        if row.duration_ms is not None:
            moments.append(row.start + timedelta(milliseconds=row.duration_ms))
    if not moments:
        created = aware(session.metadata.created_at)
        return created, created
    return min(moments), max(moments)
