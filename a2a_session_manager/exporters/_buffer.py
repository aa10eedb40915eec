"""Changes waiting for a store that is unavailable: bounded, counted, merged per session."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

from a2a_session_manager.storage.changes import SessionChanges, merge_metadata

logger = logging.getLogger(__name__)


def merge_changes(into: SessionChanges, more: SessionChanges) -> None:
    """Append ``more`` to ``into`` (same session), keeping the order of events."""
    if more.parent_id:
        into.parent_id = more.parent_id
    if more.metadata is not None:
        into.metadata = (
            more.metadata if into.metadata is None else merge_metadata(into.metadata, more.metadata)
        )
    into.state.update(more.state)
    into.events.extend(more.events)
    into.runs.extend(more.runs)
    into.child_ids.extend(c for c in more.child_ids if c not in into.child_ids)


def _size(changes: SessionChanges) -> int:
    return len(changes.events) + len(changes.runs) + 1


@dataclass
class DropCounts:
    events: int = 0
    runs: int = 0
    sessions: int = 0


class RetryBuffer:
    """Per-session changes kept while the store is down, at most ``limit`` items
    (events + runs + one per session). Beyond it the oldest sessions' changes
    are dropped, counted and logged; nothing is dropped silently."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pending: OrderedDict[str, SessionChanges] = OrderedDict()
        self._items = 0
        self.dropped = DropCounts()

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def items(self) -> int:
        return self._items

    def add(self, changes: SessionChanges) -> None:
        held = self._pending.get(changes.session_id)
        if held is None:
            self._pending[changes.session_id] = changes
        else:
            self._items -= _size(held)
            merge_changes(held, changes)
            changes = held
        self._items += _size(changes)
        while self._items > self.limit and self._pending:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        session_id, changes = self._pending.popitem(last=False)
        self._items -= _size(changes)
        self.dropped.events += len(changes.events)
        self.dropped.runs += len(changes.runs)
        self.dropped.sessions += 1
        logger.warning(
            "session store unavailable and retry buffer full (%d items): dropped %d events "
            "and %d runs of session %.64r",
            self.limit,
            len(changes.events),
            len(changes.runs),
            session_id,
        )

    def take_all(self) -> OrderedDict[str, SessionChanges]:
        pending, self._pending, self._items = self._pending, OrderedDict(), 0
        return pending
