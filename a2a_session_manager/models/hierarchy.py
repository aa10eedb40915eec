"""The port through which sessions read their hierarchy.

Models never import the storage layer (it imports them). Instead the storage
layer registers the function that returns the current store here, and
``Session.ancestors()`` / ``descendants()`` read through it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from a2a_session_manager.models.session import Session


class ParentLink(StrEnum):
    """How a session's ``parent_id`` was set, which decides whether it is read.

    A parent named by a caller in another process (W3C baggage) is a claim:
    the link is kept on the child's side only, and ``ancestors()`` (so the
    HIERARCHICAL prompt) reads the parent only when the application's
    ``configure(remote_sessions=...)`` policy accepted the claim.
    """

    LOCAL = "local"  # set by this application; the parent lists the child
    REMOTE = "remote"  # claimed by a remote caller; never read
    REMOTE_TRUSTED = "remote-trusted"  # claimed, and accepted by the policy: read

    @classmethod
    def parse(cls, value: object) -> ParentLink:
        """A stored or received value; anything unknown fails closed (``REMOTE``)."""
        if value is None or value == "":
            return cls.LOCAL
        if isinstance(value, str) and value in cls._value2member_map_:
            return cls(value)
        return cls.REMOTE


class HierarchyReader(Protocol):
    def get(self, session_id: str) -> Session | None: ...

    def children(self, session_id: str) -> list[str]: ...


_current_reader: Callable[[], HierarchyReader] | None = None


def set_reader_lookup(lookup: Callable[[], HierarchyReader]) -> None:
    global _current_reader
    _current_reader = lookup


def current_reader() -> HierarchyReader:
    if _current_reader is None:
        raise RuntimeError(
            "no session store is configured; import a2a_session_manager.storage "
            "or pass store= explicitly"
        )
    return _current_reader()
