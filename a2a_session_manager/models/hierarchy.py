"""The port through which sessions read their hierarchy.

Models never import the storage layer (it imports them). Instead the storage
layer registers the function that returns the current store here, and
``Session.ancestors()`` / ``descendants()`` read through it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from a2a_session_manager.models.session import Session


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
