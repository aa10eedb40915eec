"""Process boundaries: what a forked child and an exiting child owe the exporters.

``os.fork`` copies a process with only the forking thread alive: locks that
another thread held stay held forever in the child, and queued data is now
in two processes. Every object registered here (the session exporter)
is told before a fork (it quiesces its writer so no store lock or file lock
is mid-use), after it in the parent (it resumes) and after it in the child
(it starts over: fresh queue, locks and writer, never the parent's data).

A ``multiprocessing`` child (fork and forkserver start methods) ends with
``os._exit``: ``atexit`` never runs there, but ``multiprocessing``'s own
finalizers do. ``on_process_exit`` is registered with them, in this process
and in every ``multiprocessing`` child to come, so what a child recorded
reaches the store before it exits.
"""

from __future__ import annotations

import logging
import os
import weakref
from multiprocessing import util as mp_util
from typing import Protocol

logger = logging.getLogger(__name__)

# Runs before multiprocessing's default finalizers (priority 0): those may
# close resources a final write needs.
_EXIT_PRIORITY = 10


class ForkAware(Protocol):
    def before_fork(self) -> None: ...
    def after_fork_in_parent(self) -> None: ...
    def after_fork_in_child(self) -> None: ...
    def on_process_exit(self) -> None: ...


_registered: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def _each(method: str) -> None:
    for target in list(_registered):
        try:
            getattr(target, method)()
        except Exception:  # a fork or an exit must go on whatever we fail at
            logger.exception("a2a-session-manager: %s failed", method)


def _before() -> None:
    _each("before_fork")


def _after_in_parent() -> None:
    _each("after_fork_in_parent")


def _after_in_child() -> None:
    _each("after_fork_in_child")


os.register_at_fork(
    before=_before, after_in_parent=_after_in_parent, after_in_child=_after_in_child
)


def _exit_hook(ref: weakref.ReferenceType[ForkAware]) -> None:
    target = ref()
    if target is not None:
        try:
            target.on_process_exit()
        except Exception:
            logger.exception("a2a-session-manager: flushing at process exit failed")


def _register_exit_hook(target: ForkAware) -> None:
    mp_util.Finalize(None, _exit_hook, args=(weakref.ref(target),), exitpriority=_EXIT_PRIORITY)


def watch_process_boundaries(target: ForkAware) -> None:
    """Tell ``target`` about forks, and flush it when a ``multiprocessing``
    process (this one, or a child to come) exits."""
    _registered.add(target)
    _register_exit_hook(target)  # this process, should it be a multiprocessing child
    # A multiprocessing child clears the finalizers it inherited, then runs
    # these: each child registers its own.
    mp_util.register_after_fork(target, _register_exit_hook)
