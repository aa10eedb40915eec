"""The span processor that records spans into a session store.

``on_start`` stamps the current session and run on spans of other
instrumentations (``session.id``, ``gen_ai.conversation.id``,
``a2a.run.id``). ``on_end`` only appends the span to a bounded queue: no
store I/O, no mapping, no JSON. Spans are mapped to models and written
later, one ``store.apply`` per session per batch, either

* by ``flush()``, which the SDK calls in the caller's thread when an
  outermost run or a session returns (read-your-writes), or
* by a background thread, every ``schedule_delay`` seconds or sooner when
  the queue fills.

When the store is unavailable (``StoreUnavailableError``) the changes wait
in a bounded :class:`RetryBuffer` and are retried with exponential backoff.
Store writes run with instrumentation suppressed, so they never make spans.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from opentelemetry import context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from a2a_session_manager.exporters._buffer import RetryBuffer, merge_changes
from a2a_session_manager.exporters._duplicate_chats import DuplicateChats
from a2a_session_manager.exporters._mapping import Redactor, SpanMapper, span_attributes
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.storage.base import SessionStore
from a2a_session_manager.storage.changes import SessionChanges
from a2a_session_manager.storage.errors import StoreUnavailableError
from a2a_session_manager.storage.memory import InMemorySessionStore
from a2a_session_manager.storage.provider import SessionStoreProvider
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._context import scope_in
from a2a_session_manager.telemetry._tracers import is_own_tracer

logger = logging.getLogger(__name__)

_SUPPRESSED = Context({_SUPPRESS_INSTRUMENTATION_KEY: True})


class SessionSpanProcessor(SpanProcessor):
    """Records ended spans into ``store`` (default: ``SessionStoreProvider``'s store)."""

    def __init__(
        self,
        store: SessionStore | None = None,
        *,
        capture_content: bool = True,
        redact: Redactor | None = None,
        max_queue_size: int = 65_536,
        max_buffered_items: int = 100_000,
        schedule_delay: float = 0.5,
        retry_initial_delay: float = 0.25,
        retry_max_delay: float = 30.0,
    ) -> None:
        self.store = store
        self.mapper = SpanMapper(
            capture_content=capture_content, redact=redact, history=self._stored_events
        )
        self._duplicates = DuplicateChats()
        self._queue: deque[ReadableSpan] = deque()
        self._max_queue = max(1, max_queue_size)
        self._wake_at = max(1, self._max_queue // 4)
        self._flush_lock = threading.Lock()
        self._local = threading.local()
        self._buffer = RetryBuffer(max_buffered_items)
        self._retry_initial = retry_initial_delay
        self._retry_max = retry_max_delay
        self._retry_delay = retry_initial_delay
        self._retry_at = 0.0
        self._counts_lock = threading.Lock()
        self._dropped_spans = 0
        self._store_errors = 0
        self._failed_events = 0
        self._written_batches = 0
        self._closed = False
        self._schedule_delay = schedule_delay
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name="a2a-session-exporter", daemon=True)
        self._worker.start()

    # -- SpanProcessor --------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        scope_info = span.instrumentation_scope
        own = scope_info is not None and is_own_tracer(scope_info.name)
        self._duplicates.on_start(span, own)
        if own:
            return  # our own spans carry their session attributes already
        scope = scope_in(parent_context)
        if scope is not None and scope.attributes:
            span.set_attributes(scope.attributes)

    def on_end(self, span: ReadableSpan) -> None:
        if self._closed:
            return
        attrs = span_attributes(span)
        if (
            semconv.GEN_AI_OPERATION_NAME not in attrs
            and semconv.LLM_REQUEST_TYPE not in attrs  # OpenLLMetry's older chat spans
            and not span.events
        ):
            return  # nothing in it becomes a session model
        if self._duplicates.is_duplicate(span):
            return  # another chat span records this provider call
        queue = self._queue
        if len(queue) >= self._max_queue:
            with self._counts_lock:
                self._dropped_spans += 1
                dropped = self._dropped_spans
            if dropped == 1 or dropped % 10_000 == 0:
                logger.warning("session exporter queue full: %d spans dropped so far", dropped)
            self._wake.set()
            return
        queue.append(span)
        if len(queue) >= self._wake_at:
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Write everything queued, retrying a buffered outage now; ``True`` if
        nothing is left waiting for the store."""
        with self._flush_lock:
            self._flush_locked(retry_now=True)
            return len(self._buffer) == 0 and not self._queue

    def shutdown(self) -> None:
        if self._closed:
            return
        self._stopping.set()
        self._wake.set()
        if self._worker is not threading.current_thread():
            self._worker.join(timeout=5)
        self.force_flush()
        self._closed = True
        self._remove_read_barrier(self.store)

    def _remove_read_barrier(self, store: SessionStore | None) -> None:
        store = store if store is not None else SessionStoreProvider.get_store()
        if isinstance(store, InMemorySessionStore) and store.read_barrier == self._drain_for_reader:
            store.set_read_barrier(None)

    def _stored_events(self, session_id: str) -> list[SessionEvent] | None:
        """The session's stored events, for the mapper to recognise calls that
        another process (or this one, before it forgot them) recorded."""
        store = self.store if self.store is not None else SessionStoreProvider.get_store()
        token = context.attach(_SUPPRESSED)
        try:
            stored = store.get(session_id)
        finally:
            context.detach(token)
        return None if stored is None else stored.events

    # -- flushing -------------------------------------------------------------
    def on_scope_return(self) -> None:
        """An outermost run or a session block returned: make what it recorded
        readable (read-your-writes) before the caller goes on.

        A store in another process or on disk is written now, in this thread.
        The in-process memory store is only ever observed through its reads,
        so it gets a read barrier that drains the queue instead, and the run
        returns without paying a store write.
        """
        store = self.store if self.store is not None else SessionStoreProvider.get_store()
        if type(store) is InMemorySessionStore and not self._closed:
            if store.read_barrier is not self._drain_for_reader:
                store.set_read_barrier(self._drain_for_reader)
            return
        self.flush()

    def _drain_for_reader(self) -> None:
        # A flush in progress on another thread may hold spans of this reader:
        # wait for it. The flushing thread itself never waits on its own lock
        # (a redaction hook reading the store, say).
        if getattr(self._local, "flushing", False):
            return
        if self._queue or self._flush_lock.locked() or len(self._buffer):
            self.flush()

    def flush(self) -> None:
        """Write what is queued now, in this thread (read-your-writes)."""
        # Always take the lock: another thread may have drained our spans and
        # be writing them right now; we return only once they are stored.
        with self._flush_lock:
            self._flush_locked(retry_now=False)

    def _drain(self) -> list[ReadableSpan]:
        queue = self._queue
        spans = []
        popleft = queue.popleft
        try:
            while True:
                spans.append(popleft())
        except IndexError:
            return spans

    def _flush_locked(self, *, retry_now: bool) -> None:
        local = self._local
        local.flushing = True
        try:
            self._flush_now(retry_now=retry_now)
        finally:
            local.flushing = False

    def _flush_now(self, *, retry_now: bool) -> None:
        spans = self._drain()
        changes = self.mapper.map(spans) if spans else {}
        if len(self._buffer):
            if not retry_now and time.monotonic() < self._retry_at:
                for item in changes.values():
                    if not item.is_empty():
                        self._buffer.add(item)
                return
            pending = self._buffer.take_all()
            for session_id, item in changes.items():
                held = pending.get(session_id)
                if held is None:
                    pending[session_id] = item
                else:
                    merge_changes(held, item)
            changes = dict(pending)
        if changes:
            self._write(changes)

    def _write(self, changes: dict[str, SessionChanges]) -> None:
        store = self.store if self.store is not None else SessionStoreProvider.get_store()
        # Writes must make no spans; the memory store does no I/O that could,
        # and skipping the attach/detach matters when every run flushes.
        token = None if type(store) is InMemorySessionStore else context.attach(_SUPPRESSED)
        outage = False
        try:
            for item in changes.values():
                if item.is_empty():
                    continue
                if outage:
                    self._buffer.add(item)
                    continue
                try:
                    store.apply(item)
                except StoreUnavailableError as exc:
                    outage = True
                    self._buffer.add(item)
                    logger.warning(
                        "session store unavailable (%s); keeping changes and retrying in %.2fs",
                        exc,
                        self._retry_delay,
                    )
                except Exception:
                    with self._counts_lock:
                        self._store_errors += 1
                        self._failed_events += len(item.events) + len(item.runs)
                    logger.exception(
                        "session store failed to write session %.64r; %d events and %d runs lost",
                        item.session_id,
                        len(item.events),
                        len(item.runs),
                    )
        finally:
            if token is not None:
                context.detach(token)
        if outage:
            self._retry_at = time.monotonic() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, self._retry_max)
        else:
            self._retry_delay = self._retry_initial
            self._written_batches += 1

    def _work(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._schedule_delay)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.flush()
            except Exception:  # never let the worker die; the error is ours to log
                logger.exception("session exporter failed to flush")

    # -- observability ----------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts for monitoring: what is waiting and what was lost."""
        dropped = self._buffer.dropped
        with self._counts_lock:
            return {
                "queued_spans": len(self._queue),
                "dropped_spans": self._dropped_spans,
                "buffered_sessions": len(self._buffer),
                "buffered_items": self._buffer.items,
                "dropped_events": dropped.events,
                "dropped_runs": dropped.runs,
                "store_errors": self._store_errors,
                "failed_items": self._failed_events,
                "written_batches": self._written_batches,
            }

    def reconfigure(
        self,
        *,
        store: SessionStore | None,
        capture_content: bool,
        redact: Callable[[dict[str, Any]], dict[str, Any]] | None,
    ) -> None:
        with self._flush_lock:
            self._flush_locked(retry_now=True)
            if store is not self.store:
                self._remove_read_barrier(self.store)
            self.store = store
            self.mapper.capture_content = capture_content
            self.mapper.redact = redact
