"""What a write adds to a stored session.

Every store implements one write primitive, ``apply(SessionChanges)``:
append events (by id: an id already stored is not appended twice), upsert
runs by id, merge properties and state by key, add children. ``save()`` of
a ``Session`` object is that primitive fed with what the object gained
since it was loaded or last saved, so a save never rewrites the session and
never drops what another writer appended meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.session_run import SessionRun


@dataclass
class SessionChanges:
    session_id: str
    parent_id: str | None = None
    metadata: SessionMetadata | None = None
    state: dict[str, Any] = field(default_factory=dict)
    events: list[SessionEvent] = field(default_factory=list)
    runs: list[SessionRun] = field(default_factory=list)
    child_ids: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.parent_id
            or self.metadata
            or self.state
            or self.events
            or self.runs
            or self.child_ids
        )


def _run_signature(run: SessionRun) -> str:
    return run.model_dump_json()


def changes_since_persisted(session: Session) -> SessionChanges:
    """What ``session`` gained since it was loaded or last saved."""
    persisted_runs = session._persisted_runs
    return SessionChanges(
        session_id=session.id,
        parent_id=session.parent_id,
        metadata=session.metadata,
        state=dict(session.state),
        events=session.events[session._persisted_events :],
        runs=[r for r in session.runs if persisted_runs.get(r.id) != (_run_signature(r),)],
        child_ids=list(session.child_ids),
    )


def mark_persisted(session: Session) -> None:
    """Record that everything ``session`` holds is now in a store."""
    session._persisted_events = len(session.events)
    session._persisted_runs = {r.id: (_run_signature(r),) for r in session.runs}


def merge_metadata(stored: SessionMetadata | None, incoming: SessionMetadata) -> SessionMetadata:
    """Earliest creation, latest update, properties merged by key (incoming wins)."""
    if stored is None:
        return incoming.model_copy(deep=True)
    return SessionMetadata(
        created_at=min(stored.created_at, incoming.created_at),
        updated_at=max(stored.updated_at, incoming.updated_at),
        properties={**stored.properties, **incoming.properties},
    )
