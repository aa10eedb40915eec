"""What child processes run in the fork and multiprocessing tests.

Module-level functions, so ``spawn`` and ``forkserver`` children can import
them by name. A child forked from a configured parent records through the
parent's (re-initialised) exporter, inside the session the parent has open;
a child started fresh configures recording itself and opens the session by id.
"""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.sdk._configure import current_handle

EVENTS_PER_CHILD = 30


def child_messages(tag: str) -> list[str]:
    return [f"{tag} event {i}" for i in range(EVENTS_PER_CHILD)]


def record_in_open_session(store_url: str, session_id: str, tag: str) -> str:
    """Record ``EVENTS_PER_CHILD`` events in ``session_id``, with no run around
    them: nothing flushes them but the process's exit."""
    handle = current_handle()
    if handle is None or not handle.enabled:  # a fresh interpreter (spawn, forkserver)
        asm.configure(store=asm.create_store(store_url), tracer_provider=TracerProvider())
        scope = asm.session(session_id)
        scope.__enter__()  # left open: the process ends inside it
    for message in child_messages(tag):
        asm.record_event(message)
    return tag
