"""Changes waiting for a store that is unavailable: bounded, counted, merged per session.

The buffer is bounded twice: in items (events + runs + one per session) and
in bytes, estimated as the serialized size of what it holds (computed once,
when a change is first buffered, so an outage costs one serialization per
change and a healthy store none). Beyond either bound the oldest sessions'
changes are dropped; what is dropped, and what is still buffered when the
exporter shuts down, is counted (``DropCounts``) and logged once.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

from a2a_session_manager.storage.changes import SessionChanges, merge_metadata
from a2a_session_manager.storage.serialization import to_json
from a2a_session_manager.telemetry._json import to_json_text

logger = logging.getLogger(__name__)

DEFAULT_MAX_ITEMS = 100_000
DEFAULT_MAX_BYTES = 128 * 1024 * 1024

# What a session's own entry costs beyond its events and runs (ids, metadata).
_SESSION_OVERHEAD = 512


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


def item_count(changes: SessionChanges) -> int:
    return len(changes.events) + len(changes.runs) + 1


def estimate_bytes(changes: SessionChanges) -> int:
    """About what ``changes`` weigh in memory: their serialized size."""
    size = _SESSION_OVERHEAD + sum(len(e.id) for e in changes.events)
    size += sum(len(to_json(event)) for event in changes.events)
    size += sum(len(to_json(run)) for run in changes.runs)
    if changes.state:
        size += len(to_json_text(changes.state))
    return size


@dataclass
class DropCounts:
    events: int = 0
    runs: int = 0
    sessions: int = 0

    def add(self, changes: SessionChanges) -> None:
        self.events += len(changes.events)
        self.runs += len(changes.runs)
        self.sessions += 1


@dataclass
class _Held:
    changes: SessionChanges
    items: int
    bytes: int


class RetryBuffer:
    """Per-session changes kept while the store is down, at most ``max_items``
    items and about ``max_bytes`` bytes. Call from one thread at a time (the
    exporter's flush lock)."""

    def __init__(self, max_items: int = DEFAULT_MAX_ITEMS, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_items = max(1, max_items)
        self.max_bytes = max(1, max_bytes)
        self._pending: OrderedDict[str, _Held] = OrderedDict()
        self._items = 0
        self._bytes = 0
        self.dropped = DropCounts()
        self._warned = False

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def items(self) -> int:
        return self._items

    @property
    def bytes(self) -> int:
        return self._bytes

    def add(self, changes: SessionChanges, size: int | None = None) -> None:
        """Keep ``changes``; ``size`` is their byte estimate when already known."""
        if size is None:
            size = estimate_bytes(changes)
        items = item_count(changes)
        held = self._pending.get(changes.session_id)
        if held is None:
            self._pending[changes.session_id] = _Held(changes, items, size)
        else:
            merge_changes(held.changes, changes)
            held.items += items - 1  # one session entry, not two
            held.bytes += size - _SESSION_OVERHEAD
            items -= 1
            size -= _SESSION_OVERHEAD
        self._items += items
        self._bytes += size
        while (self._items > self.max_items or self._bytes > self.max_bytes) and self._pending:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        session_id, held = self._pending.popitem(last=False)
        self._items -= held.items
        self._bytes -= held.bytes
        self.dropped.add(held.changes)
        if not self._warned:
            self._warned = True
            logger.warning(
                "session store unavailable and retry buffer full (%d items, %d bytes at most): "
                "dropping the oldest sessions' changes, first %.64r; every drop is counted "
                "in stats()",
                self.max_items,
                self.max_bytes,
                session_id,
            )

    def take_all(self) -> list[tuple[SessionChanges, int]]:
        """Everything held, oldest session first, with each one's byte estimate."""
        pending = [(held.changes, held.bytes) for held in self._pending.values()]
        self._pending, self._items, self._bytes = OrderedDict(), 0, 0
        return pending

    def held_counts(self) -> DropCounts:
        """What is held, counted (another thread may be adding: a best effort)."""
        counts = DropCounts()
        try:
            for held in list(self._pending.values()):
                counts.add(held.changes)
        except RuntimeError:  # changed size while we counted
            pass
        return counts

    def drop_all(self) -> DropCounts:
        """Give up on everything held (the exporter is shutting down); counted."""
        lost = DropCounts()
        for held in self._pending.values():
            lost.add(held.changes)
            self.dropped.add(held.changes)
        self._pending, self._items, self._bytes = OrderedDict(), 0, 0
        return lost
