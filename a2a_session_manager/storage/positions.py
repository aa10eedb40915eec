"""Incremental reads: where a reader stopped in a session's events, so its
next read (``events_since``) returns only what was stored after.

Every store keeps an event at the place it was first appended, also when it
is replaced in place, so a count of events is a stable position. A session
deleted and written again is caught by its anchor: the last event before the
position (the file store: the last line before its byte offset) must still be
where it was, otherwise the read starts over from the first event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from a2a_session_manager.models.session_event import SessionEvent


class LogPlace(NamedTuple):
    """Where the file store stopped reading a session's log."""

    device: int  # which file (st_dev, st_ino): a log written again is another file
    inode: int
    anchor_start: int  # the last complete line read starts here ...
    offset: int  # ... and ends here (the next read starts here)
    anchor_crc: int  # crc32 of that line: still the same log, not a recreated one


class EventPosition(NamedTuple):
    """How far a reader has read a session's events; pass back what the last
    ``events_since`` returned (``START`` at first)."""

    events_read: int = 0  # events before the position, in first-append order
    last_id: str | None = None  # the id of the last of them (the anchor)
    log: LogPlace | None = None  # the file store's place in the session's log


START = EventPosition()


class NewEvents(NamedTuple):
    """What ``events_since`` read: the events first appended after the
    position, as they are now, and the position to read from next time."""

    events: list[SessionEvent]
    position: EventPosition


def events_after(events: Sequence[SessionEvent], position: EventPosition) -> NewEvents:
    """The ``NewEvents`` of a session holding ``events`` (all of them, in
    first-append order): the stores that keep a list, and stores that only
    offer ``get``."""
    count = position.events_read
    if count and (count > len(events) or events[count - 1].id != position.last_id):
        count = 0  # not the events read before: the session was written again
    return NewEvents(
        list(events[count:]), EventPosition(len(events), events[-1].id if events else None)
    )
