"""The session store protocol, and the ``save`` every store shares."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from a2a_session_manager.models.session import Session
from a2a_session_manager.storage.changes import (
    SessionChanges,
    changes_since_persisted,
    mark_saved,
)


@runtime_checkable
class SessionStore(Protocol):
    """What every store offers. Stores know nothing about OpenTelemetry.

    ``get`` returns ``None`` only when the session does not exist; data that
    exists but cannot be read raises ``SessionCorruptedError``, and an
    unreachable backend raises ``StoreUnavailableError``.
    """

    def get(self, session_id: str) -> Session | None: ...

    def save(self, session: Session) -> None:
        """Write what ``session`` gained since it was loaded or last saved."""
        ...

    def apply(self, changes: SessionChanges) -> None:
        """Append events, upsert runs, merge metadata and state, add children;
        creates the session if it does not exist."""
        ...

    def delete(self, session_id: str) -> None: ...

    def exists(self, session_id: str) -> bool: ...

    def list_sessions(self, prefix: str = "") -> list[str]: ...

    def children(self, session_id: str) -> list[str]: ...

    def close(self) -> None: ...


class BaseSessionStore:
    """Shared behaviour: ``save`` is ``apply`` of what is new."""

    def apply(self, changes: SessionChanges) -> None:
        raise NotImplementedError

    def save(self, session: Session) -> None:
        changes = changes_since_persisted(session)
        self.apply(changes)
        mark_saved(session, changes)

    def close(self) -> None:
        """Release connections and files; the default holds none."""

    def __enter__(self) -> BaseSessionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
