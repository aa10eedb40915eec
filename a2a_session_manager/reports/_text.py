"""Terminal rendering of listings, sessions, trees and usage.

Everything recorded (ids, names, keys, messages) is shown with control
characters escaped (``terminal_safe``): ids and names on one line, messages
one-lined or, with ``full``, keeping only their newlines and tabs. Each
renderer's whole output is escaped once more, so nothing missed can reach
the terminal raw.
"""

from __future__ import annotations

from a2a_session_manager.models.payloads import Instructions
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_run import RunStatus
from a2a_session_manager.reports._content import (
    aware,
    event_timing,
    source_name,
    to_display,
    type_name,
)
from a2a_session_manager.reports._conversation import ToolCallView, conversation
from a2a_session_manager.reports._format import (
    format_clock,
    format_duration,
    format_time,
    one_line,
    table,
    terminal_safe,
)
from a2a_session_manager.reports._overview import SessionOverview, SessionTree, TreeNode
from a2a_session_manager.reports._usage import UsageReport, UsageRow, format_cost

_SHORT = 72  # characters of a message shown per line unless --full


def render_list(overviews: list[SessionOverview]) -> str:
    if not overviews:
        return "No sessions."
    rows = [
        [
            o.id,
            format_time(o.updated_at),
            str(o.runs),
            str(o.events),
            f"{o.total_tokens:,}",
            format_cost(o.cost_usd, o.unpriced_calls),
            o.parent_id or "",
        ]
        for o in overviews
    ]
    headers = ["SESSION", "UPDATED (UTC)", "RUNS", "EVENTS", "TOKENS", "COST", "PARENT"]
    return table(headers, rows, right={2, 3, 4})


def _status_mark(status: str) -> str:
    return {"completed": "✓", "failed": "✗", "running": "…", "cancelled": "⊘"}.get(status, "·")


def _name(text: str | None) -> str:
    return terminal_safe(text or "")


def _tool_line(view: ToolCallView, full: bool) -> str:
    record = view.record
    arguments = to_display(record.arguments)
    outcome = f"error: {record.error}" if record.error else to_display(record.result)
    duration = format_duration(event_timing(view.event).duration_ms)
    call = f"{_name(record.tool_name)}({arguments})"
    if not full:
        call = one_line(call, _SHORT)
        outcome = one_line(outcome, _SHORT)
    tail = f"  [{duration}]" if duration else ""
    return f"tool {call} → {outcome}{tail}"


def _instructions_lines(instructions: Instructions) -> list[str]:
    lines = [f"{m.role}: {to_display(m.content)}" for m in instructions.system]
    lines += [f"{k} = {to_display(v)}" for k, v in instructions.parameters.items()]
    lines += [f"tool {to_display(t)}" for t in instructions.tools]
    return lines


def render_show(session: Session, full: bool = False) -> str:
    """Header, runs, then every event in run order with its tool calls under
    it. Instructions show as one line (all of them with ``full``); failed
    and interrupted calls say so."""
    overview = SessionOverview.of(session)
    lines = [
        f"Session {_name(session.id)}",
        f"  created  {format_time(overview.created_at)} UTC",
        f"  updated  {format_time(overview.updated_at)} UTC",
    ]
    if session.parent_id:
        lines.append(f"  parent   {_name(session.parent_id)}")
    if session.child_ids:
        lines.append(f"  children {', '.join(map(_name, session.child_ids))}")
    for key, value in session.metadata.properties.items():
        lines.append(f"  {_name(key)}: {one_line(to_display(value), _SHORT)}")
    failed = f" ({overview.failed_calls} failed)" if overview.failed_calls else ""
    lines.append(
        f"  {overview.runs} runs, {overview.events} events, {overview.llm_calls} LLM calls"
        f"{failed}, {overview.total_tokens:,} tokens, "
        f"{format_cost(overview.cost_usd, overview.unpriced_calls)}"
    )

    run_names = {run.id: run.name or run.id for run in session.runs}
    lines += ["", f"Runs ({len(session.runs)})"]
    if session.runs:
        rows = []
        for run in session.runs:
            status = run.status.value if isinstance(run.status, RunStatus) else str(run.status)
            duration = run.duration_seconds
            rows.append(
                [
                    f"{_status_mark(status)} {run.name or '-'}",
                    status + (" (closed early)" if run.metadata.get("closed_early") else ""),
                    format_clock(aware(run.started_at)),
                    format_duration(None if duration is None else duration * 1000),
                    run_names.get(run.parent_run_id or "", run.parent_run_id or ""),
                    run.id,
                    one_line(run.error or "", 60),
                ]
            )
        headers = ["RUN", "STATUS", "STARTED", "DURATION", "PARENT RUN", "ID", "ERROR"]
        lines.append(table(headers, rows, right={3}))

    entries = conversation(session)
    tool_calls = sum(len(e.tool_calls) for e in entries)
    lines += ["", f"Events ({len(session.events)}, {tool_calls} tool calls)"]
    for entry in entries:
        event = entry.event
        run_name = run_names.get(event.task_id or "", event.task_id or "")
        head = (
            f"{format_clock(aware(event.timestamp))}  {_name(source_name(event)):<6} "
            f"{_name(type_name(event)):<9}"
        )
        if run_name:
            head += f" [{_name(run_name)}]"
        text = terminal_safe(entry.text, keep_lines=True) if full else one_line(entry.text, _SHORT)
        if not text and entry.requested:
            text = "asks " + ", ".join(_name(call.name) for call in entry.requested)
        usage = event.token_usage
        if usage is not None:
            text += (
                f"  ({_name(usage.model) or 'unknown model'}: {usage.prompt_tokens}+"
                f"{usage.completion_tokens} tokens, "
                f"{format_cost(usage.estimated_cost_usd, int(usage.estimated_cost_usd is None))})"
            )
        if entry.text or usage is not None or not entry.tool_calls:
            lines.append(f"{head}  {text}".rstrip())
        else:
            lines.append(head)
        if entry.failure:
            lines.append(f"    ✗ {entry.failure if full else one_line(entry.failure, _SHORT)}")
        if entry.retry:
            lines.append(f"    ↻ {entry.retry}")
        if full and entry.instructions is not None:
            lines += [f"    {line}" for line in _instructions_lines(entry.instructions)]
        answered = {v.record.call_id for v in entry.tool_calls}
        for call in entry.requested:
            if call.id is None or call.id not in answered:
                args = to_display(call.arguments)
                shown = args if full else one_line(args, _SHORT)
                lines.append(f"    asks {_name(call.name)}({shown})")
        for view in entry.tool_calls:
            lines.append(f"    ↳ {_tool_line(view, full)}")
    return terminal_safe("\n".join(lines), keep_lines=True)


def render_tree(tree: SessionTree) -> str:
    lines: list[str] = []

    def describe(node: TreeNode) -> str:
        o = node.overview
        mark = "  ◀" if o.id == tree.focus_id else ""
        rolled = ""
        if node.children:
            t = node.tree
            rolled = (
                f"; with descendants {t.total_tokens:,} tokens, "
                f"{format_cost(t.cost_usd, t.unpriced_calls)}"
            )
        return (
            f"{_name(o.id)}  ({o.runs} runs, {o.events} events, {o.total_tokens:,} tokens, "
            f"{format_cost(o.cost_usd, o.unpriced_calls)}{rolled}){mark}"
        )

    lines.append(describe(tree.root))
    # (node, prefix of its line, whether it is its parent's last child)
    stack = [(c, "", i == 0) for i, c in enumerate(reversed(tree.root.children))]
    while stack:
        node, prefix, last = stack.pop()
        lines.append(f"{prefix}{'└── ' if last else '├── '}{describe(node)}")
        child_prefix = prefix + ("    " if last else "│   ")
        stack.extend((c, child_prefix, i == 0) for i, c in enumerate(reversed(node.children)))
    return terminal_safe("\n".join(lines), keep_lines=True)


def _usage_rows(rows: list[UsageRow]) -> list[list[str]]:
    return [
        [
            row.label,
            str(row.calls),
            str(row.failed_calls),
            f"{row.prompt_tokens:,}",
            f"{row.completion_tokens:,}",
            f"{row.cached_input_tokens:,}",
            f"{row.reasoning_tokens:,}",
            f"{row.total_tokens:,}",
            format_cost(row.cost_usd, row.unpriced_calls),
        ]
        for row in rows
    ]


def render_usage(report: UsageReport) -> str:
    headers = ["CALLS", "FAILED", "PROMPT", "COMPLETION", "CACHED", "REASONING", "TOTAL", "COST"]
    numbers = {1, 2, 3, 4, 5, 6, 7}
    total = report.total
    failed = f" ({total.failed_calls} failed)" if total.failed_calls else ""
    parts = [
        f"Usage of session {_name(report.session_id)}",
        f"  {total.total_tokens:,} tokens in {total.calls} calls{failed}, "
        f"{format_cost(total.cost_usd, total.unpriced_calls)}",
    ]
    if report.tree is not None and report.descendants:
        tree = report.tree
        parts.append(
            f"  with its {report.descendants} descendant session(s): "
            f"{tree.total_tokens:,} tokens in {tree.calls} calls, "
            f"{format_cost(tree.cost_usd, tree.unpriced_calls)}"
        )
    if total.calls == 0:
        parts.append("  (no event carries token usage)")
        return terminal_safe("\n".join(parts), keep_lines=True)
    for title, rows in (
        ("MODEL", report.by_model),
        ("SOURCE", report.by_source),
        ("RUN", report.by_run),
    ):
        parts += ["", table([title, *headers], _usage_rows(rows), right=numbers)]
    return terminal_safe("\n".join(parts), keep_lines=True)
