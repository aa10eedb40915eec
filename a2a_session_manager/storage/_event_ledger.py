"""What each event this store object wrote to a session log counted in the
index, so that an event written again counts only its difference.

The same event id reaches a log twice when a batch is replayed (a write that
timed out for the exporter but still landed) or when an event is replaced in
place (a tool span, then the request that carries its result). The log's
reader keeps one copy; the index must too, as the memory and Redis stores do.

Only this object's own writes are known: events that another process wrote
are not read back (that would cost a read of the log per write). Replays come
from this process's retry buffer, so they are covered. The ledger is bounded
(least recently written sessions forgotten first); an event replayed after its
session was forgotten counts again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.storage._after_fork import renew_locks_after_fork
from a2a_session_manager.storage._file_log import FileKey
from a2a_session_manager.storage.query import EventTotals

DEFAULT_MAX_EVENTS = 200_000


@dataclass
class _Log:
    key: FileKey
    end: int
    counted: dict[str, EventTotals] = field(default_factory=dict)


class EventLedger:
    """Per session log: each event id written and what it counted."""

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        self._max_events = max_events
        self._logs: OrderedDict[str, _Log] = OrderedDict()
        self._events = 0
        self._lock = threading.Lock()
        renew_locks_after_fork(self)

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()

    def count(
        self, session_id: str, key: FileKey, start: int, end: int, events: Iterable[SessionEvent]
    ) -> EventTotals:
        """What ``events``, just written to the log between ``start`` and
        ``end``, add to the session's summary (call under the log's lock)."""
        totals = EventTotals()
        with self._lock:
            log = self._logs.pop(session_id, None)
            if log is None or log.key != key or start < log.end:
                # New to us, or the file was replaced or shrank since: what we
                # knew of it no longer holds.
                if log is not None:
                    self._events -= len(log.counted)
                log = _Log(key, end)
            log.end = end
            for event in events:
                now = EventTotals.of((event,))
                before = log.counted.get(event.id)
                if before is None:
                    self._events += 1
                totals.add_totals(now, replacing=before)
                log.counted[event.id] = now
            self._logs[session_id] = log
            self._trim(session_id)
        return totals

    def forget(self, session_id: str) -> None:
        with self._lock:
            log = self._logs.pop(session_id, None)
            if log is not None:
                self._events -= len(log.counted)

    def _trim(self, newest: str) -> None:
        while self._events > self._max_events and self._logs:
            session_id, log = next(iter(self._logs.items()))
            if session_id == newest and len(self._logs) == 1:
                # One huge session: drop its oldest ids, keep its newest.
                drop = self._events - self._max_events
                for event_id in list(log.counted)[:drop]:
                    del log.counted[event_id]
                self._events -= drop
                return
            del self._logs[session_id]
            self._events -= len(log.counted)
