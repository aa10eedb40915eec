"""Stores' locks in a forked child.

``os.fork`` copies a process with only the forking thread alive: a lock that
another thread (a reader, the exporter's writer) held at that moment stays
held forever in the child, and the child's first read or write of the store
never returns. A store registered here gets ``after_fork_in_child()``
called in the child, where it replaces its in-process locks; what they
guard is consistent, since no other thread of the child runs.
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import Protocol

logger = logging.getLogger(__name__)


class _Forkable(Protocol):
    def after_fork_in_child(self) -> None: ...


_stores: weakref.WeakSet[_Forkable] = weakref.WeakSet()


def _after_in_child() -> None:
    for store in list(_stores):
        try:
            store.after_fork_in_child()
        except Exception:  # the child must start whatever we fail at
            logger.exception("a store could not renew its locks after fork")


os.register_at_fork(after_in_child=_after_in_child)


def renew_locks_after_fork(store: _Forkable) -> None:
    """Call ``store.after_fork_in_child()`` in every forked child."""
    _stores.add(store)
