"""Tokens and cost of a session, by model, by source and by run, and of the
session's tree (the session with all its descendants: a parent's total
includes what its child sessions spent).

A failed provider call (an LLM event whose payload has an ``error``) is a
call: it counts in ``calls`` and in ``failed_calls``, with the tokens it
recorded (usually none). Cost is never invented: a call whose model has no
known price adds no cost and is counted in ``unpriced_calls``; a group where
no call was priced has ``cost_usd = None`` ("unknown price").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2a_session_manager.models.hierarchy import HierarchyReader
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.token_usage import TokenUsage
from a2a_session_manager.reports._content import llm_message, source_name


@dataclass
class UsageRow:
    key: str
    label: str = ""
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = None
    unpriced_calls: int = 0
    failed_calls: int = 0
    usage_sources: set[str] = field(default_factory=set)

    def add_failed(self, usage: TokenUsage | None) -> None:
        """A failed call, with the usage it recorded if any."""
        if usage is not None:
            self.add(usage)
        else:
            self.calls += 1
        self.failed_calls += 1

    def add(self, usage: TokenUsage) -> None:
        self.calls += 1
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cached_input_tokens += usage.cached_input_tokens
        self.reasoning_tokens += usage.reasoning_tokens
        self.total_tokens += usage.total_tokens
        self.usage_sources.add(usage.source)
        if usage.estimated_cost_usd is None:
            self.unpriced_calls += 1
        else:
            self.cost_usd = (self.cost_usd or 0.0) + usage.estimated_cost_usd

    def merge(self, other: UsageRow) -> None:
        """Add ``other``'s numbers to this row."""
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.total_tokens += other.total_tokens
        self.usage_sources |= other.usage_sources
        self.unpriced_calls += other.unpriced_calls
        self.failed_calls += other.failed_calls
        if other.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + other.cost_usd

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label or self.key,
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
            "unpriced_calls": self.unpriced_calls,
            "failed_calls": self.failed_calls,
            "counted_by": sorted(self.usage_sources),
        }


@dataclass
class UsageReport:
    session_id: str
    total: UsageRow
    by_model: list[UsageRow]
    by_source: list[UsageRow]
    by_run: list[UsageRow]
    # The session with all its descendants (None: not asked for).
    tree: UsageRow | None = None
    descendants: int = 0

    def as_dict(self) -> dict[str, Any]:
        tree = None
        if self.tree is not None:
            tree = {**self.tree.as_dict(), "descendants": self.descendants}
        return {
            "session_id": self.session_id,
            "total": self.total.as_dict(),
            "tree_total": tree,
            "by_model": [row.as_dict() for row in self.by_model],
            "by_source": [row.as_dict() for row in self.by_source],
            "by_run": [row.as_dict() for row in self.by_run],
        }


NO_RUN = "(no run)"


def session_total(session: Session) -> UsageRow:
    """Every event's token usage of ``session`` added up."""
    total = UsageRow("total", "total")
    for event in session.events:
        message = llm_message(event)
        if message is not None and message.error is not None:
            total.add_failed(event.token_usage)
        elif event.token_usage is not None:
            total.add(event.token_usage)
    return total


def tree_total(session: Session, store: HierarchyReader) -> tuple[UsageRow, int]:
    """The usage of ``session`` and all its descendants (read through
    ``store``), and how many descendants there are."""
    total = session_total(session)
    total.key = total.label = "tree"
    descendants = session.descendants(store)
    for descendant in descendants:
        total.merge(session_total(descendant))
    return total, len(descendants)


def usage_report(session: Session, store: HierarchyReader | None = None) -> UsageReport:
    """Add up every event's token usage and every failed call; rows keep
    first-seen order. With ``store``, also the total over the session's tree
    (``tree``)."""
    total = UsageRow("total", "total")
    by_model: dict[str, UsageRow] = {}
    by_source: dict[str, UsageRow] = {}
    by_run: dict[str, UsageRow] = {}
    run_names = {run.id: run.name or run.id for run in session.runs}
    for event in session.events:
        usage = event.token_usage
        message = llm_message(event)
        failed = message is not None and message.error is not None
        if usage is None and not failed:
            continue
        recorded_model = event.metadata.get("model")
        model = (usage.model if usage else "") or (
            recorded_model if isinstance(recorded_model, str) and recorded_model else "unknown"
        )
        source = source_name(event)
        run_id = event.task_id or NO_RUN
        label = run_names.get(run_id, run_id)
        rows = (
            total,
            by_model.setdefault(model, UsageRow(model, model)),
            by_source.setdefault(source, UsageRow(source, source)),
            by_run.setdefault(run_id, UsageRow(run_id, label)),
        )
        for row in rows:
            if failed:
                row.add_failed(usage)
            elif usage is not None:
                row.add(usage)
    report = UsageReport(
        session_id=session.id,
        total=total,
        by_model=list(by_model.values()),
        by_source=list(by_source.values()),
        by_run=list(by_run.values()),
    )
    if store is not None:
        report.tree, report.descendants = tree_total(session, store)
    return report


def format_cost(cost_usd: float | None, unpriced_calls: int = 0) -> str:
    """``$0.0123``, ``unknown price``, ``$0.0123 + unknown price``, or ``-`` (no calls)."""
    if cost_usd is None:
        return "unknown price" if unpriced_calls else "-"
    text = f"${cost_usd:.6f}".rstrip("0").rstrip(".") if cost_usd < 0.01 else f"${cost_usd:.4f}"
    return f"{text} + unknown price" if unpriced_calls else text
