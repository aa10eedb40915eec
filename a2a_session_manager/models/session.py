"""A session: a conversation or agent job, with its runs, events and children."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from pydantic import BaseModel, Field, PrivateAttr, model_validator

from a2a_session_manager.models.hierarchy import HierarchyReader, ParentLink, current_reader
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.session_run import RunStatus, SessionRun
from a2a_session_manager.models.token_usage import TokenSummary, TokenUsage
from a2a_session_manager.tokens.counting import count_chat_tokens


class Session(BaseModel):
    id: str = Field(default_factory=lambda: uuid4().hex)
    metadata: SessionMetadata = Field(default_factory=SessionMetadata)
    parent_id: str | None = None
    parent_link: ParentLink = ParentLink.LOCAL
    child_ids: list[str] = Field(default_factory=list)
    task_ids: list[str] = Field(default_factory=list)
    runs: list[SessionRun] = Field(default_factory=list)
    events: list[SessionEvent] = Field(default_factory=list)
    state: dict[str, Any] = Field(default_factory=dict)
    token_summary: TokenSummary = Field(default_factory=TokenSummary)

    # What this object held when it was loaded or last saved, so that ``save``
    # writes only what changed since (see storage.changes): event ids in
    # order, and fingerprints of runs, state values and property values.
    _persisted_event_ids: list[str] = PrivateAttr(default_factory=list)
    _persisted_edges: tuple[SessionEvent | None, SessionEvent | None] = PrivateAttr(
        default=(None, None)
    )  # the first and last of those events, to tell an append in O(1)
    _persisted_runs: dict[str, str] = PrivateAttr(default_factory=dict)
    _persisted_state: dict[str, bytes | str] = PrivateAttr(default_factory=dict)
    _persisted_properties: dict[str, bytes | str] = PrivateAttr(default_factory=dict)
    _persisted_parent: str | None = PrivateAttr(default=None)
    _persisted_parent_link: ParentLink = PrivateAttr(default=ParentLink.LOCAL)
    _persisted_children: set[str] = PrivateAttr(default_factory=set)

    @model_validator(mode="after")
    def _summarise_loaded_events(self) -> Session:
        if self.events and self.token_summary.total_tokens == 0:
            self.token_summary = TokenSummary.from_usages(e.token_usage for e in self.events)
        return self

    # -- events and runs -------------------------------------------------
    def add_event(self, event: SessionEvent) -> None:
        self.events.append(event)
        if event.token_usage is not None:
            self.token_summary.add_usage(event.token_usage)
        self.metadata.touch()

    def add_child(self, child_id: str) -> None:
        if child_id not in self.child_ids:
            self.child_ids.append(child_id)

    def remove_child(self, child_id: str) -> None:
        if child_id in self.child_ids:
            self.child_ids.remove(child_id)

    @property
    def last_update_time(self) -> Any:
        return self.metadata.updated_at

    @property
    def active_run(self) -> SessionRun | None:
        for run in reversed(self.runs):
            if run.status == RunStatus.RUNNING:
                return run
        return None

    def events_for_run(self, run_id: str) -> list[SessionEvent]:
        return [e for e in self.events if e.task_id == run_id]

    # -- tokens ----------------------------------------------------------
    @property
    def total_tokens(self) -> int:
        return self.token_summary.total_tokens

    @property
    def total_cost(self) -> float:
        return self.token_summary.total_estimated_cost_usd

    def usage_by_source(self) -> dict[str, TokenSummary]:
        out: dict[str, TokenSummary] = {}
        for event in self.events:
            if event.token_usage is not None:
                key = str(event.source)
                out.setdefault(key, TokenSummary()).add_usage(event.token_usage)
        return out

    def usage_by_run(self) -> dict[str, TokenSummary]:
        out: dict[str, TokenSummary] = {}
        for event in self.events:
            if event.token_usage is not None and event.task_id:
                out.setdefault(event.task_id, TokenSummary()).add_usage(event.token_usage)
        return out

    def tree_usage(self, store: HierarchyReader | None = None) -> TokenSummary:
        """Usage of this session and all its descendants (read through the
        store): a parent's total including what its child sessions spent."""
        usages = [e.token_usage for e in self.events]
        for descendant in self.descendants(store):
            usages.extend(e.token_usage for e in descendant.events)
        return TokenSummary.from_usages(usages)

    def tree_cost(self, store: HierarchyReader | None = None) -> float:
        """``total_cost`` of this session plus that of all its descendants."""
        return self.tree_usage(store).total_estimated_cost_usd

    def count_message_tokens(
        self, messages: list[dict[str, Any]] | str, model: str = "gpt-4o-mini"
    ) -> int:
        """Exact tokens of ``messages`` as the chat API bills them (or of plain text)."""
        if isinstance(messages, str):
            return TokenUsage.count_tokens(messages, model)
        return count_chat_tokens(messages, model)

    # -- hierarchy (read through the store, never stored in the model) ---
    def ancestors(self, store: HierarchyReader | None = None) -> list[Session]:
        """Parent, grandparent, ... as the store has them (nearest first).

        Stops at a parent claimed by a remote caller that the application's
        policy did not accept (``parent_link`` is ``REMOTE``): its content is
        never read.
        """
        reader = store if store is not None else current_reader()
        out: list[Session] = []
        seen = {self.id}
        parent_id, link = self.parent_id, self.parent_link
        while parent_id and parent_id not in seen and link != ParentLink.REMOTE:
            seen.add(parent_id)
            parent = reader.get(parent_id)
            if parent is None:
                break
            out.append(parent)
            parent_id, link = parent.parent_id, parent.parent_link
        return out

    def descendants(self, store: HierarchyReader | None = None) -> list[Session]:
        """Children, grandchildren, ... breadth first, as the store has them."""
        reader = store if store is not None else current_reader()
        out: list[Session] = []
        seen = {self.id}
        queue = list(dict.fromkeys([*self.child_ids, *reader.children(self.id)]))
        while queue:
            child_id = queue.pop(0)
            if child_id in seen:
                continue
            seen.add(child_id)
            child = reader.get(child_id)
            if child is None:
                continue
            out.append(child)
            queue.extend(c for c in (*child.child_ids, *reader.children(child_id)) if c not in seen)
        return out
