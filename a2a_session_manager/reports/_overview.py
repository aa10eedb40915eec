"""One line per session (for ``list``) and the session hierarchy (for ``tree``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from a2a_session_manager.models.hierarchy import HierarchyReader
from a2a_session_manager.models.session import Session
from a2a_session_manager.reports._content import aware, provider_call
from a2a_session_manager.reports._usage import UsageRow, usage_report


@dataclass(frozen=True)
class SessionOverview:
    id: str
    parent_id: str | None
    created_at: datetime
    updated_at: datetime
    runs: int
    events: int
    children: int
    total_tokens: int
    cost_usd: float | None
    unpriced_calls: int
    llm_calls: int = 0
    failed_calls: int = 0

    @classmethod
    def of(cls, session: Session, children: int | None = None) -> SessionOverview:
        usage = usage_report(session).total
        replies = [m for m in map(provider_call, session.events) if m is not None]
        return cls(
            id=session.id,
            parent_id=session.parent_id,
            created_at=aware(session.metadata.created_at),
            updated_at=aware(session.metadata.updated_at),
            runs=len(session.runs),
            events=len(session.events),
            children=len(session.child_ids) if children is None else children,
            total_tokens=usage.total_tokens,
            cost_usd=usage.cost_usd,
            unpriced_calls=usage.unpriced_calls,
            llm_calls=len(replies),
            failed_calls=sum(1 for m in replies if m.error is not None),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "runs": self.runs,
            "events": self.events,
            "children": self.children,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
            "unpriced_calls": self.unpriced_calls,
            "llm_calls": self.llm_calls,
            "failed_calls": self.failed_calls,
        }


def newest_first(overviews: list[SessionOverview]) -> list[SessionOverview]:
    """Most recently updated first; ties broken by creation time, then id."""
    return sorted(overviews, key=lambda o: (o.updated_at, o.created_at, o.id), reverse=True)


@dataclass
class TreeNode:
    overview: SessionOverview
    children: list[TreeNode] = field(default_factory=list)
    # This session and everything under it (filled by ``session_tree``).
    tree: UsageRow = field(default_factory=lambda: UsageRow("tree", "tree"))

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.overview.as_dict(),
            "tree_total_tokens": self.tree.total_tokens,
            "tree_cost_usd": self.tree.cost_usd,
            "tree_unpriced_calls": self.tree.unpriced_calls,
            "children": [c.as_dict() for c in self.children],
        }


@dataclass(frozen=True)
class SessionTree:
    focus_id: str
    ancestors: list[str]  # nearest first
    root: TreeNode

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.focus_id,
            "ancestors": self.ancestors,
            "root": self.root.as_dict(),
        }


def session_tree(session: Session, store: HierarchyReader) -> SessionTree:
    """The whole hierarchy ``session`` belongs to, from its top ancestor down.

    Children are found both in each session's ``child_ids`` and through
    ``store.children``; a session reachable twice appears once, under the
    first parent met breadth first (a cycle in bad data cannot loop).
    """
    ancestors = session.ancestors(store)
    top = ancestors[-1] if ancestors else session
    members = {top.id: top, **{s.id: s for s in top.descendants(store)}}
    members.setdefault(session.id, session)
    kids_of: dict[str, list[str]] = {}
    placed = {top.id}
    queue = [top.id]
    while queue:
        current = members[queue.pop(0)]
        kids = [
            kid
            for kid in dict.fromkeys([*current.child_ids, *store.children(current.id)])
            if kid in members and kid not in placed
        ]
        placed.update(kids)
        queue.extend(kids)
        kids_of[current.id] = kids
    nodes = {
        sid: TreeNode(SessionOverview.of(members[sid], children=len(kids)))
        for sid, kids in kids_of.items()
    }
    for sid, kids in kids_of.items():
        nodes[sid].children = [nodes[k] for k in kids]
    # Roll usage up, children before parents (the reverse of breadth first).
    for sid in reversed(list(kids_of)):
        node = nodes[sid]
        node.tree.merge(usage_report(members[sid]).total)
        for child in node.children:
            node.tree.merge(child.tree)
    return SessionTree(
        focus_id=session.id,
        ancestors=[a.id for a in ancestors],
        root=nodes[top.id],
    )


def show_document(session: Session) -> dict[str, Any]:
    """``show --json``: the overview, the properties, and runs and events as stored."""
    return {
        "session": {
            **SessionOverview.of(session).as_dict(),
            "child_ids": list(session.child_ids),
            "properties": session.metadata.properties,
        },
        "runs": [run.model_dump(mode="json") for run in session.runs],
        "events": [event.model_dump(mode="json") for event in session.events],
    }
