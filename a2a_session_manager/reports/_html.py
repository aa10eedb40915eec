"""``export --html``: one self-contained HTML file per session.

The page needs no network: CSS and JavaScript are inlined and a Content
Security Policy allows only those exact inline blocks (by hash), so nothing
recorded in a session can load or run anything even if it were not escaped.
Server-rendered parts (header, totals, links) are escaped with ``html.escape``;
the timeline and the conversation are built in the browser from embedded JSON
through ``textContent``, in batches, so 10,000-event sessions open fast.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import quote

from a2a_session_manager.models.hierarchy import HierarchyReader
from a2a_session_manager.models.payloads import ToolCallRequest
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_run import RunStatus
from a2a_session_manager.reports._agents import AgentRow, agent_rows
from a2a_session_manager.reports._content import (
    aware,
    event_timing,
    source_name,
    to_display,
    type_name,
)
from a2a_session_manager.reports._conversation import ConversationEntry, ToolCallView, conversation
from a2a_session_manager.reports._files import replace_file
from a2a_session_manager.reports._format import format_clock, format_duration, format_time, one_line
from a2a_session_manager.reports._overview import SessionOverview
from a2a_session_manager.reports._timeline import TimelineItem, timeline, timeline_bounds
from a2a_session_manager.reports._usage import UsageReport, UsageRow, format_cost, usage_report

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")


def report_filename(session_id: str) -> str:
    """``<id>.html`` when the id is a plain file name, else a name derived from
    its hash: ids like ``../x`` or ``a/b`` never address another path."""
    if _SAFE_NAME.fullmatch(session_id) and not session_id.endswith("."):
        return f"{session_id}.html"
    digest = hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"session-{digest}.html"


def _asset(name: str) -> str:
    return (
        resources.files("a2a_session_manager.reports")
        .joinpath("assets", name)
        .read_text(encoding="utf-8")
    )


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _json_for_script(value: Any) -> str:
    # Inside <script> only "</" could end the element; escaping <, > and & (and
    # the two JS line separators) keeps the JSON inert and still parseable.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=repr)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _pretty(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, indent=2, default=repr)
    except ValueError:
        return repr(value)


def _package_version() -> str:
    try:
        return version("a2a-session-manager")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class _Related:
    session_id: str
    href: str
    overview: SessionOverview | None  # None: named by the hierarchy but not in the store


def _related(session: Session, store: HierarchyReader) -> tuple[_Related | None, list[_Related]]:
    def one(session_id: str) -> _Related:
        found = store.get(session_id)
        return _Related(
            session_id,
            quote(report_filename(session_id)),
            None if found is None else SessionOverview.of(found),
        )

    parent = one(session.parent_id) if session.parent_id else None
    child_ids = dict.fromkeys([*session.child_ids, *store.children(session.id)])
    return parent, [one(child_id) for child_id in child_ids if child_id != session.id]


# -- data for the browser ------------------------------------------------------
def _call_data(view: ToolCallView) -> dict[str, Any]:
    record = view.record
    return {
        "name": record.tool_name,
        "call_id": record.call_id,
        "args": _pretty(record.arguments),
        "args_line": one_line(to_display(record.arguments), 200),
        "result": _pretty(record.result),
        "error": record.error,
        "duration_ms": event_timing(view.event).duration_ms,
        "pending": False,
    }


def _pending_call_data(call: ToolCallRequest) -> dict[str, Any]:
    return {
        "name": call.name,
        "call_id": call.id,
        "args": _pretty(call.arguments),
        "args_line": one_line(to_display(call.arguments), 200),
        "result": "",
        "error": None,
        "duration_ms": None,
        "pending": True,
    }


def _usage_line(entry: ConversationEntry) -> str:
    usage = entry.event.token_usage
    if usage is None:
        return ""
    cost = format_cost(usage.estimated_cost_usd, int(usage.estimated_cost_usd is None))
    tokens = f"{usage.prompt_tokens:,} → {usage.completion_tokens:,} tokens"
    if usage.cached_input_tokens:
        tokens += f" ({usage.cached_input_tokens:,} cached)"
    return f"{usage.model or 'unknown model'} · {tokens} · {cost}"


def _entry_data(
    index: int, entry: ConversationEntry, run_names: dict[str, str], start: datetime
) -> dict[str, Any]:
    event = entry.event
    message = event.message
    structured = (
        not isinstance(message, str)
        and message is not None
        and entry.llm is None
        and entry.instructions is None
        and not (entry.tool_calls and entry.tool_calls[0].event is event)  # shown as a call
    )
    answered = {view.record.call_id for view in entry.tool_calls}
    calls = [_call_data(view) for view in entry.tool_calls]
    calls += [
        _pending_call_data(call)
        for call in entry.requested
        if call.id is None or call.id not in answered
    ]
    is_standalone_tool = not entry.text and entry.tool_calls and not entry.requested
    moment = aware(event.timestamp)
    return {
        "index": index,
        "role": "tool" if is_standalone_tool else source_name(event),
        "type": type_name(event),
        "run": run_names.get(event.task_id or "", event.task_id or ""),
        "at": format_clock(moment),
        "offset_ms": max((moment - start) / timedelta(milliseconds=1), 0.0),
        "text": _pretty(message) if structured else entry.text,
        "json": structured,
        "failure": entry.failure,
        "retry": entry.retry,
        # Instructions: shown collapsed, in full.
        "details": _pretty(entry.instructions.to_stored()) if entry.instructions else "",
        "usage": _usage_line(entry),
        "calls": calls,
    }


def _row_data(row: TimelineItem, start: datetime, entry_index: int | None) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "label": row.label,
        "detail": row.detail,
        "start_ms": max((row.start - start) / timedelta(milliseconds=1), 0.0),
        "duration_ms": row.duration_ms,
        "depth": row.depth,
        "status": row.status,
        "entry": entry_index,
    }


def report_data(session: Session) -> dict[str, Any]:
    """What the page's script renders: timeline rows and conversation entries."""
    rows = timeline(session)
    start, end = timeline_bounds(session, rows)
    entries = conversation(session)
    run_names = {run.id: run.name or run.id for run in session.runs}
    entry_of: dict[str, int] = {}
    first_of_run: dict[str, int] = {}
    for index, entry in enumerate(entries):
        entry_of[entry.event.id] = index
        for view in entry.tool_calls:
            entry_of[view.event.id] = index
        if entry.event.task_id:
            first_of_run.setdefault(entry.event.task_id, index)
    return {
        "session_id": session.id,
        "started_at": format_time(start) + " UTC",
        "span_ms": (end - start) / timedelta(milliseconds=1),
        "timeline": [
            _row_data(
                row,
                start,
                first_of_run.get(row.id) if row.kind == "run" else entry_of.get(row.id),
            )
            for row in rows
        ],
        "entries": [
            _entry_data(index, entry, run_names, start) for index, entry in enumerate(entries)
        ],
    }


# -- server-rendered parts ------------------------------------------------------
def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _card(label: str, value: str, sub: str = "", extra: str = "") -> str:
    return (
        f'<div class="card{extra}"><div class="label">{_e(label)}</div>'
        f'<div class="value" title="{_e(value)}">{_e(value)}</div>'
        f'<div class="sub">{_e(sub)}</div></div>'
    )


def _cards(session: Session, usage: UsageReport, data: dict[str, Any]) -> str:
    total = usage.total
    failed = sum(1 for run in session.runs if run.status == RunStatus.FAILED)
    calls = [call for entry in data["entries"] for call in entry["calls"] if not call["pending"]]
    tool_errors = sum(1 for call in calls if call["error"] is not None)
    llm_calls = sum(1 for row in data["timeline"] if row["kind"] == "llm")
    if total.cost_usd is None:
        cost = "unknown price" if total.unpriced_calls else "-"
        cost_note = f"{total.unpriced_calls} calls, none priced" if total.unpriced_calls else ""
    else:
        cost = format_cost(total.cost_usd)
        cost_note = (
            f"+ {total.unpriced_calls} call(s) at unknown price" if total.unpriced_calls else ""
        )
    if usage.tree is not None and usage.descendants:
        tree = usage.tree
        rolled = f"with descendants {format_cost(tree.cost_usd, tree.unpriced_calls)}"
        cost_note = f"{cost_note} · {rolled}" if cost_note else rolled
    return "".join(
        [
            _card(
                "Tokens",
                f"{total.total_tokens:,}",
                f"{total.prompt_tokens:,} in · {total.completion_tokens:,} out",
            ),
            _card("Cost", cost, cost_note),
            _card("Duration", format_duration(data["span_ms"]) or "0 ms", data["started_at"]),
            _card(
                "Runs",
                str(len(session.runs)),
                f"{failed} failed" if failed else "none failed",
                " accent-fail" if failed else "",
            ),
            _card(
                "LLM calls",
                str(llm_calls),
                f"{total.failed_calls} failed · {len(session.events):,} events in all"
                if total.failed_calls
                else f"{len(session.events):,} events in all",
                " accent-fail" if total.failed_calls else "",
            ),
            _card(
                "Tool calls",
                str(len(calls)),
                f"{tool_errors} with errors" if tool_errors else "no errors",
                " accent-fail" if tool_errors else "",
            ),
        ]
    )


def _cost_cell(row: UsageRow) -> str:
    text = format_cost(row.cost_usd, row.unpriced_calls)
    if row.unpriced_calls:
        return f'<td class="unknown">{_e(text)}</td>'
    return f"<td>{_e(text)}</td>"


def _usage_table(usage: UsageReport) -> str:
    if usage.total.calls == 0:
        return '<p class="empty">No event carries token usage.</p>'
    head = (
        "<tr><th>Model</th><th>Calls</th><th>Failed</th><th>Input</th><th>Cached</th>"
        "<th>Output</th><th>Reasoning</th><th>Total</th><th>Cost</th></tr>"
    )

    def line(row: UsageRow, cls: str = "") -> str:
        cells = [row.calls, row.failed_calls, row.prompt_tokens, row.cached_input_tokens]
        cells += [row.completion_tokens]
        cells += [row.reasoning_tokens, row.total_tokens]
        numbers = "".join(f"<td>{n:,}</td>" for n in cells)
        return f'<tr class="{cls}"><td>{_e(row.label)}</td>{numbers}{_cost_cell(row)}</tr>'

    body = "".join(line(row) for row in usage.by_model)
    if len(usage.by_model) > 1:
        body += line(usage.total, "total")
    return f'<table class="usage"><thead>{head}</thead><tbody>{body}</tbody></table>'


def _agent_line(row: AgentRow, href: str | None) -> str:
    name = _e(row.session_id)
    link = f'<a href="{_e(href)}">{name}</a>' if href else f"<strong>{name}</strong>"
    indent = "\u00a0\u00a0" * (row.depth - 1) + "└\u00a0" if row.depth else ""
    numbers = f"<td>{row.runs}</td><td>{_e(format_duration(row.run_ms) or '-')}</td>"
    numbers += f"<td>{row.usage.total_tokens:,}</td>{_cost_cell(row.usage)}"
    agents = _e(", ".join(row.agents) or "-")
    return f'<tr><td class="mono">{_e(indent)}{link}</td><td>{agents}</td>{numbers}</tr>'


def _agents_html(session: Session, store: HierarchyReader) -> str:
    """Time and cost per agent over the session and its descendants; nothing
    for a session without descendants (its cards already say it)."""
    rows = agent_rows(session, store)
    if len(rows) < 2:
        return ""
    total = AgentRow("all", 0, [], sum(r.runs for r in rows), None, UsageRow("all", "all"))
    for row in rows:
        total.usage.merge(row.usage)
    head = (
        "<tr><th>Session</th><th>Agent</th><th>Runs</th><th>Time</th><th>Tokens</th>"
        "<th>Cost</th></tr>"
    )
    body = "".join(
        _agent_line(row, None if row.depth == 0 else quote(report_filename(row.session_id)))
        for row in rows
    )
    body += (
        f'<tr class="total"><td>{len(rows)} sessions</td><td></td><td>{total.runs}</td>'
        "<td></td>"  # agents' times overlap (a caller waits for its callee): no sum
        f"<td>{total.usage.total_tokens:,}</td>{_cost_cell(total.usage)}</tr>"
    )
    return (
        '<section class="panel" id="agents"><h2>Agents in this session tree</h2>'
        f'<table class="usage agents"><thead>{head}</thead><tbody>{body}</tbody></table>'
        "</section>"
    )


def _link_item(item: _Related) -> str:
    if item.overview is None:
        return (
            f'<li><span class="mono">{_e(item.session_id)}</span>'
            '<span class="stats">not in store</span></li>'
        )
    o = item.overview
    stats = f"{o.runs} runs · {o.events} events · {o.total_tokens:,} tokens"
    return (
        f'<li><a href="{_e(item.href)}">{_e(item.session_id)}</a>'
        f'<span class="stats">{_e(stats)}</span></li>'
    )


def _related_html(session: Session, parent: _Related | None, children: list[_Related]) -> str:
    parts: list[str] = []
    if parent is not None:
        parts += [
            '<div class="related-label">Parent</div><ul class="links">',
            _link_item(parent),
            "</ul>",
        ]
    label = f"Children ({len(children)})"
    parts.append(f'<div class="related-label">{_e(label)}</div>')
    if children:
        parts += ['<ul class="links">', *(_link_item(child) for child in children), "</ul>"]
    else:
        parts.append('<p class="empty">No child sessions.</p>')
    properties = session.metadata.properties
    if properties:
        rows = "".join(
            f"<dt>{_e(key)}</dt><dd>{_e(one_line(to_display(value), 300))}</dd>"
            for key, value in properties.items()
        )
        parts.append(f'<div class="related-label">Properties</div><dl class="props">{rows}</dl>')
    return "".join(parts)


def _meta(session: Session, parent: _Related | None) -> str:
    overview = SessionOverview.of(session)
    bits = [
        f"created {_e(format_time(overview.created_at))} UTC",
        f"updated {_e(format_time(overview.updated_at))} UTC",
    ]
    if parent is not None:
        bits.append(f'child of <a href="{_e(parent.href)}">{_e(parent.session_id)}</a>')
    return '<span class="sep">·</span>'.join(bits)


def render_report(session: Session, store: HierarchyReader) -> str:
    """The report of ``session`` as one HTML document (``store`` is read for
    the parent and children it links to)."""
    data = report_data(session)
    usage = usage_report(session, store)
    parent, children = _related(session, store)
    trap, script, css = _asset("trap.js"), _asset("report.js"), _asset("report.css")
    csp = (
        f"default-src 'none'; script-src {_csp_hash(trap)} {_csp_hash(script)}; "
        f"style-src {_csp_hash(css)}; img-src data:; base-uri 'none'; form-action 'none'"
    )
    generated = format_time(datetime.now(UTC))
    values = {
        "CSP": _e(csp),
        "VERSION": _e(_package_version()),
        "TITLE": _e(f"Session {one_line(session.id, 80)} · A2A session report"),
        "TRAP": trap,
        "CSS": css,
        "SESSION_ID": _e(session.id),
        "META": _meta(session, parent),
        "CARDS": _cards(session, usage, data),
        "AGENTS": _agents_html(session, store),
        "USAGE": _usage_table(usage),
        "RELATED": _related_html(session, parent, children),
        "FOOTER": _e(f"Generated by a2a-session-manager {_package_version()} on {generated} UTC."),
        "DATA": _json_for_script(data),
        "JS": script,
    }
    # One pass over the template: text inserted for one placeholder is never
    # scanned for another, so recorded content cannot smuggle one in.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _asset("report.html"))


def write_report(session: Session, store: HierarchyReader, path: Path) -> Path:
    document = render_report(session, store)
    # Lone surrogates (recorded from bad input) become visible escapes, not a crash.
    replace_file(path, document.encode("utf-8", errors="backslashreplace"))
    return path


def export_html(
    session: Session, store: HierarchyReader, path: Path, with_children: bool = False
) -> list[Path]:
    """Write ``path`` and, with ``with_children``, every descendant's report next
    to it under :func:`report_filename` (the names the links point to)."""
    written = [write_report(session, store, path)]
    if with_children:
        for descendant in session.descendants(store):
            target = path.parent / report_filename(descendant.id)
            if target.resolve() != path.resolve():
                written.append(write_report(descendant, store, target))
    return written
