"""What a write adds to a stored session.

Every store implements one write primitive, ``apply(SessionChanges)``:
append events (by id: an id already stored is not appended twice), upsert
runs by id, merge properties and state by key (and remove the keys listed as
removed), add children. ``save()`` of a ``Session`` object is that primitive
fed with what the object changed since it was loaded or last saved:

- events appended after the ones it was loaded with (an event inserted
  *before* stored ones is refused with ``EventOrderError``: stores append);
- runs that are new or differ from what was loaded;
- state keys and metadata properties whose value changed, and the keys that
  were deleted from the object, nothing else. Two writers of different keys
  therefore both survive; on the same key the last writer wins;
- the parent id when it changed, children added, and the creation and update
  times (merged by earliest and latest).

So a save never rewrites the session and never puts back a stale copy of what
another writer changed meanwhile.

A parent with ``ParentLink.LOCAL`` also gets the child; any other link is
recorded on the child only (a remote caller's claim never writes into the
session it names).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import pydantic_core

from a2a_session_manager.models.hierarchy import ParentLink
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.session_run import SessionRun
from a2a_session_manager.storage.errors import EventOrderError


@dataclass
class SessionChanges:
    """One write to one session. ``state`` and ``removed_state`` (like
    ``metadata.properties`` and ``removed_properties``) never share a key."""

    session_id: str
    parent_id: str | None = None
    parent_link: ParentLink = ParentLink.LOCAL
    metadata: SessionMetadata | None = None
    state: dict[str, Any] = field(default_factory=dict)
    events: list[SessionEvent] = field(default_factory=list)
    runs: list[SessionRun] = field(default_factory=list)
    child_ids: list[str] = field(default_factory=list)
    removed_state: list[str] = field(default_factory=list)
    removed_properties: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.parent_id
            or self.metadata
            or self.state
            or self.events
            or self.runs
            or self.child_ids
            or self.removed_state
            or self.removed_properties
        )


def value_signature(value: Any) -> bytes | str:
    """A comparable fingerprint of a state or property value: its JSON as the
    text stores would keep it (``repr`` for what is not JSON). Taken at load,
    it tells a changed value (even one mutated in place) from an untouched one."""
    try:
        return pydantic_core.to_json(value, fallback=repr)
    except Exception:  # lone surrogates, recursion, a __repr__ that raises ...
        try:
            return repr(value)
        except Exception:
            return f"<{type(value).__qualname__} at {id(value):#x}>"


def _signatures(values: dict[str, Any]) -> dict[str, bytes | str]:
    return {key: value_signature(value) for key, value in values.items()}


def _changed(
    values: dict[str, Any], persisted: dict[str, bytes | str]
) -> tuple[dict[str, Any], list[str]]:
    changed = {
        key: value
        for key, value in values.items()
        if key not in persisted or persisted[key] != value_signature(value)
    }
    removed = [key for key in persisted if key not in values]
    return changed, removed


def _run_signature(run: SessionRun) -> str:
    return run.model_dump_json()


def _only_appended(session: Session) -> bool:
    """Whether the stored events are still the list's first ones, in place.

    O(1), so that appending to a long session costs the same as to a short
    one: the first and last stored event objects are still where they were.
    An insert or removal among them moves one of the two (an insert together
    with a removal between them is the one edit this does not see)."""
    events = session.events
    count = len(session._persisted_event_ids)
    if count == 0:
        return True
    first, last = session._persisted_edges
    return len(events) >= count and events[0] is first and events[count - 1] is last


def _new_events(session: Session) -> list[SessionEvent]:
    events = session.events
    saved = session._persisted_event_ids
    count = len(saved)
    if _only_appended(session) or (
        len(events) >= count and [e.id for e in events[:count]] == saved
    ):
        return events[count:]  # the usual case: appended at the end
    # Something other than an append: events removed (stores never delete
    # events, so the store keeps them) or inserted among the stored ones.
    saved_set = set(saved)
    last_saved = max((i for i, e in enumerate(events) if e.id in saved_set), default=-1)
    for event in events[:last_saved]:
        if event.id not in saved_set:
            raise EventOrderError(
                f"session {session.id[:200]!r}: event {event.id[:200]!r} was inserted before "
                "events that are already stored; stores only append events, so it would be "
                "saved out of order. Add new events at the end (session.add_event)."
            )
    return [e for e in events[last_saved + 1 :] if e.id not in saved_set]


def changes_since_persisted(session: Session) -> SessionChanges:
    """What ``session`` changed since it was loaded or last saved.

    Raises ``EventOrderError`` (before anything is written) when an event was
    inserted before events that are already stored.
    """
    events = _new_events(session)
    state, removed_state = _changed(session.state, session._persisted_state)
    properties, removed_properties = _changed(
        session.metadata.properties, session._persisted_properties
    )
    persisted_runs = session._persisted_runs
    known_children = session._persisted_children
    parent_id = session.parent_id
    parent_changed = (parent_id, session.parent_link) != (
        session._persisted_parent,
        session._persisted_parent_link,
    )
    return SessionChanges(
        session_id=session.id,
        parent_id=parent_id if parent_changed else None,
        parent_link=session.parent_link,
        metadata=SessionMetadata.model_construct(
            created_at=session.metadata.created_at,
            updated_at=session.metadata.updated_at,
            properties=properties,
        ),
        state=state,
        events=events,
        runs=[r for r in session.runs if persisted_runs.get(r.id) != _run_signature(r)],
        child_ids=[c for c in session.child_ids if c not in known_children],
        removed_state=removed_state,
        removed_properties=removed_properties,
    )


def mark_saved(session: Session, changes: SessionChanges) -> None:
    """Record that ``changes`` (from ``changes_since_persisted``) are stored:
    in time proportional to the changes, not to the session."""
    if not _only_appended(session):
        mark_persisted(session)  # events were moved: take stock again
        return
    session._persisted_event_ids.extend(e.id for e in changes.events)
    _remember_edges(session)
    session._persisted_runs.update((r.id, _run_signature(r)) for r in changes.runs)
    for values, persisted, removed in (
        (changes.state, session._persisted_state, changes.removed_state),
        (
            changes.metadata.properties if changes.metadata else {},
            session._persisted_properties,
            changes.removed_properties,
        ),
    ):
        persisted.update(_signatures(values))
        for key in removed:
            persisted.pop(key, None)
    session._persisted_parent = session.parent_id
    session._persisted_parent_link = session.parent_link
    session._persisted_children.update(changes.child_ids)


def _remember_edges(session: Session) -> None:
    events, count = session.events, len(session._persisted_event_ids)
    session._persisted_edges = (events[0], events[count - 1]) if count else (None, None)


_event_id = operator.attrgetter("id")


def mark_persisted(session: Session, event_ids: list[str] | None = None) -> None:
    """Record that everything ``session`` holds is now in a store
    (``event_ids``: those of ``session.events``, when the caller has them)."""
    # attrgetter over map: half the cost of a comprehension on a 10,000-event load
    session._persisted_event_ids = (
        list(map(_event_id, session.events)) if event_ids is None else event_ids
    )
    _remember_edges(session)
    session._persisted_runs = {r.id: _run_signature(r) for r in session.runs}
    session._persisted_state = _signatures(session.state)
    session._persisted_properties = _signatures(session.metadata.properties)
    session._persisted_parent = session.parent_id
    session._persisted_parent_link = session.parent_link
    session._persisted_children = set(session.child_ids)


def merge_metadata(stored: SessionMetadata | None, incoming: SessionMetadata) -> SessionMetadata:
    """Earliest creation, latest update, properties merged by key (incoming wins)."""
    if stored is None:
        return incoming.model_copy(update={"properties": dict(incoming.properties)})
    return SessionMetadata(
        created_at=min(stored.created_at, incoming.created_at),
        updated_at=max(stored.updated_at, incoming.updated_at),
        properties={**stored.properties, **incoming.properties},
    )
