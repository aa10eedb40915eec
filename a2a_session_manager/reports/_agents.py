"""Time and cost per agent over a session tree (the HTML report's "Agents" panel).

One row per session, the session first and then its descendants depth first:
the agents are the names of the session's top-level runs, its time is what
those runs took, its tokens and cost are its own (not rolled up), so an agent
in another process (a sub-agent, an A2A server) is seen next to its caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from a2a_session_manager.models.hierarchy import HierarchyReader
from a2a_session_manager.models.session import Session
from a2a_session_manager.reports._usage import UsageRow, usage_report


@dataclass(frozen=True)
class AgentRow:
    session_id: str
    depth: int  # 0 for the session the report is about
    agents: list[str]  # its top-level runs' names, in order, once each
    runs: int
    run_ms: float | None  # time in its top-level runs; None when none has ended
    usage: UsageRow


def _row(session: Session, depth: int) -> AgentRow:
    top = [run for run in session.runs if run.parent_run_id is None]
    durations = [d for d in (run.duration_seconds for run in top) if d is not None]
    return AgentRow(
        session_id=session.id,
        depth=depth,
        agents=list(dict.fromkeys(run.name for run in top if run.name)),
        runs=len(session.runs),
        run_ms=sum(durations) * 1000 if durations else None,
        usage=usage_report(session).total,
    )


def agent_rows(session: Session, store: HierarchyReader) -> list[AgentRow]:
    """``session`` and its descendants, depth first (each session once, even
    when bad data makes it reachable twice)."""
    members = {s.id: s for s in session.descendants(store)}
    seen = {session.id}
    rows: list[AgentRow] = []
    stack = [(session, 0)]
    while stack:
        current, depth = stack.pop()
        rows.append(_row(current, depth))
        kid_ids = dict.fromkeys([*current.child_ids, *store.children(current.id)])
        kids = [members[k] for k in kid_ids if k in members and k not in seen]
        seen.update(kid.id for kid in kids)
        stack.extend((kid, depth + 1) for kid in reversed(kids))
    return rows
