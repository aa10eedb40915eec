"""The span processor that records spans into a session store.

``on_start`` stamps the current session and run on spans of other
instrumentations (``session.id``, ``gen_ai.conversation.id``,
``a2a_session_manager.run.id``). ``on_end`` only appends the span to a bounded queue: no
store I/O, no mapping, no JSON. Spans are mapped to models and written
later, one ``store.apply`` per session per batch, by one writer thread:

* when an outermost run or a session returns (read-your-writes), the caller
  asks the writer for a pass and waits for it at most ``flush_deadline``
  seconds; past it the caller goes on, the write finishes in the background
  and the return is counted as ``late`` (while the store stays stuck, later
  returns do not wait again);
* otherwise every ``schedule_delay`` seconds, or sooner when the queue fills.

The in-process memory store needs no write on return: it gets a read
barrier that drains the queue before each read.

When the store is unavailable (``StoreUnavailableError``) the changes wait
in a :class:`RetryBuffer` bounded in items and bytes, and are retried with
exponential backoff. Store writes run with instrumentation suppressed, so
they never make spans. Shutdown waits at most ``shutdown_timeout`` seconds;
what is still unwritten then is counted as dropped.

Forks (``_fork``): before one, the writer is paused between writes; the
child starts over with an empty queue, fresh locks, a fresh buffer and its
own writer (started on first use), and never writes the parent's spans.
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

from a2a_session_manager.exporters._buffer import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ITEMS,
    RetryBuffer,
)
from a2a_session_manager.exporters._duplicate_chats import DuplicateChats
from a2a_session_manager.exporters._fork import watch_process_boundaries
from a2a_session_manager.exporters._mapping import Redactor, SpanMapper, span_attributes
from a2a_session_manager.models.json_values import unencodable_count
from a2a_session_manager.storage.base import IncrementalEventReader, SessionStore
from a2a_session_manager.storage.changes import SessionChanges
from a2a_session_manager.storage.errors import StoreUnavailableError
from a2a_session_manager.storage.memory import InMemorySessionStore
from a2a_session_manager.storage.positions import EventPosition, NewEvents, events_after
from a2a_session_manager.storage.provider import SessionStoreProvider
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._context import scope_in
from a2a_session_manager.telemetry._fast_spans import blind_on_start
from a2a_session_manager.telemetry._tracers import is_chat_tracer, is_own_tracer

logger = logging.getLogger(__name__)

_SUPPRESSED = Context({_SUPPRESS_INSTRUMENTATION_KEY: True})

DEFAULT_FLUSH_DEADLINE = 5.0
DEFAULT_SHUTDOWN_TIMEOUT = 30.0
# How long a fork waits for a write in progress to finish before it goes on
# anyway (the child gets fresh locks either way).
_FORK_WAIT = 2.0


class _Pass:
    """One write pass of the writer thread and the callers waiting for it."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.requested = 0  # tickets handed out
        self.done = 0  # every ticket up to this one is written (or buffered)
        self.retry_now = False


@blind_on_start  # our chat spans are told apart by their tracer at start
class SessionSpanProcessor(SpanProcessor):
    """Records ended spans into ``store`` (default: ``SessionStoreProvider``'s store)."""

    def __init__(
        self,
        store: SessionStore | None = None,
        *,
        capture_content: bool = True,
        redact: Redactor | None = None,
        max_queue_size: int = 65_536,
        max_buffered_items: int = DEFAULT_MAX_ITEMS,
        max_buffered_bytes: int = DEFAULT_MAX_BYTES,
        schedule_delay: float = 0.5,
        flush_deadline: float = DEFAULT_FLUSH_DEADLINE,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        retry_initial_delay: float = 0.25,
        retry_max_delay: float = 30.0,
    ) -> None:
        self.store = store
        self.mapper = self._new_mapper(capture_content, redact)
        self._max_queue = max(1, max_queue_size)
        self._wake_at = max(1, self._max_queue // 4)
        self._max_buffered_items = max_buffered_items
        self._max_buffered_bytes = max_buffered_bytes
        self._schedule_delay = schedule_delay
        self._flush_deadline = max(0.0, flush_deadline)
        self._shutdown_timeout = max(0.0, shutdown_timeout)
        self._retry_initial = retry_initial_delay
        self._retry_max = retry_max_delay
        self._closed = False
        self._start_over()
        self._start_worker()
        watch_process_boundaries(self)

    def _new_mapper(self, capture_content: bool, redact: Redactor | None) -> SpanMapper:
        return SpanMapper(
            capture_content=capture_content, redact=redact, history=self._stored_events
        )

    def _start_over(self) -> None:
        """Fresh queue, locks, buffer, counts and writer (at start and in a forked child)."""
        self._queue: deque[ReadableSpan] = deque()
        self._duplicates = DuplicateChats()
        self._flush_lock = threading.Lock()
        self._fork_held = False
        self._local = threading.local()
        self._buffer = RetryBuffer(self._max_buffered_items, self._max_buffered_bytes)
        self._retry_delay = self._retry_initial
        self._retry_at = 0.0
        self._counts_lock = threading.Lock()
        self._dropped_spans = 0
        self._store_errors = 0
        self._failed_events = 0
        self._written_batches = 0
        self._late = 0
        self._unwritten_at_shutdown = 0
        self._writing: list[tuple[SessionChanges, int | None]] = []
        self._write_index = 0
        self._stalled = False
        self._pass = _Pass()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None

    def _start_worker(self) -> None:
        with self._counts_lock:
            if self._worker is not None or self._closed:
                return
            self._worker = threading.Thread(
                target=self._work, name="a2a-session-exporter", daemon=True
            )
            self._worker.start()

    # -- SpanProcessor --------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        scope_info = span.instrumentation_scope
        tracer = scope_info.name if scope_info is not None else ""
        own = is_own_tracer(tracer)
        self._duplicates.on_start(span, own, own and is_chat_tracer(tracer))
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
            and semconv.A2A_PROTOCOL_METHOD_NAME not in attrs  # A2A calls
            and not span.events
        ):
            return  # nothing in it becomes a session model
        if self._duplicates.is_duplicate(span):
            return  # another chat span records this provider call
        if self._worker is None:
            self._start_worker()  # a forked child writes through a writer of its own
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
        nothing is left waiting for the store within ``timeout_millis``."""
        if self._closed:
            return not self._queue and len(self._buffer) == 0
        if self._is_writer_thread():
            self._flush_locked(retry_now=True)  # a hook of ours flushing: no one to wait for
        elif not self._wait_for_pass(self._request_pass(retry_now=True), timeout_millis / 1000):
            return False
        return len(self._buffer) == 0 and not self._queue

    def shutdown(self) -> None:
        """Write what is left and stop the writer, within ``shutdown_timeout``
        seconds whatever the store does; what is still unwritten is counted."""
        if self._closed:
            return
        deadline = time.monotonic() + self._shutdown_timeout
        self._closed = True  # spans ending from now on are not taken
        if not self._is_writer_thread() and self._worker is not None:
            self._wait_for_pass(self._request_pass(retry_now=True), self._shutdown_timeout)
        self._stopping.set()
        self._wake.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        self._count_unwritten(writer_stuck=worker is not None and worker.is_alive())
        self._remove_read_barrier(self.store)

    def _count_unwritten(self, *, writer_stuck: bool) -> None:
        """Shutdown: what never reached the store is counted and logged once."""
        if writer_stuck:
            # The writer is inside a store call: leave its data alone, count it.
            lost = self._buffer.held_counts()
            for item, _ in self._writing[self._write_index :]:
                lost.add(item)
            spans = len(self._queue)
        else:
            lost = self._buffer.drop_all()
            spans = len(self._drain())
        if not (lost.events or lost.runs or spans):
            return
        with self._counts_lock:
            self._unwritten_at_shutdown += lost.events + lost.runs + spans
            self._dropped_spans += spans
            if writer_stuck:
                self._buffer.dropped.events += lost.events
                self._buffer.dropped.runs += lost.runs
        logger.warning(
            "session exporter shut down with %d events, %d runs and %d spans not in the store "
            "(store unavailable or too slow); counted in stats()",
            lost.events,
            lost.runs,
            spans,
        )

    def _remove_read_barrier(self, store: SessionStore | None) -> None:
        store = store if store is not None else SessionStoreProvider.get_store()
        if isinstance(store, InMemorySessionStore) and store.read_barrier == self._drain_for_reader:
            store.set_read_barrier(None)

    def _stored_events(self, session_id: str, position: EventPosition) -> NewEvents:
        """The events the session stored after ``position``, for the mapper to
        recognise calls that another process (or this one, before it forgot
        them) recorded."""
        store = self.store if self.store is not None else SessionStoreProvider.get_store()
        token = context.attach(_SUPPRESSED)
        try:
            if isinstance(store, IncrementalEventReader):
                return store.events_since(session_id, position)
            # A custom store with only the SessionStore protocol: read it whole.
            stored = store.get(session_id)
        finally:
            context.detach(token)
        return events_after(stored.events if stored is not None else (), position)

    # -- read-your-writes -----------------------------------------------------
    def on_scope_return(self) -> None:
        """An outermost run or a session block returned: make what it recorded
        readable (read-your-writes) before the caller goes on, waiting at
        most ``flush_deadline`` seconds.

        The in-process memory store is only ever observed through its reads,
        so it gets a read barrier that drains the queue instead, and the run
        returns without paying a store write.
        """
        if self._closed:
            return
        store = self.store if self.store is not None else SessionStoreProvider.get_store()
        if type(store) is InMemorySessionStore:
            if store.read_barrier is not self._drain_for_reader:
                store.set_read_barrier(self._drain_for_reader)
            return
        if self._is_writer_thread():
            return  # a run inside one of our hooks: the pass in progress writes it
        if self._stalled:
            self._count_late()  # the store is stuck on an earlier write: do not wait again
            self._wake.set()
            return
        if not self._wait_for_pass(self._request_pass(), self._flush_deadline):
            self._stalled = True
            self._count_late()

    def _count_late(self) -> None:
        with self._counts_lock:
            self._late += 1
            late = self._late
        if late == 1:
            logger.warning(
                "session store did not answer within %.1fs: the run returned and its write "
                "goes on in the background (counted as 'late' in stats())",
                self._flush_deadline,
            )

    def _drain_for_reader(self) -> None:
        # A flush in progress on another thread may hold spans of this reader:
        # wait for it. The flushing thread itself never waits on its own lock
        # (a redaction hook reading the store, say).
        if getattr(self._local, "flushing", False):
            return
        if self._queue or self._flush_lock.locked() or len(self._buffer):
            self.flush()

    def flush(self) -> None:
        """Write what is queued now, in this thread (the memory store's read barrier)."""
        # Always take the lock: another thread may have drained our spans and
        # be writing them right now; we return only once they are stored.
        with self._flush_lock:
            self._flush_locked(retry_now=False)

    # -- the writer -------------------------------------------------------------
    def _is_writer_thread(self) -> bool:
        return self._worker is threading.current_thread() or getattr(self._local, "flushing", False)

    def _request_pass(self, *, retry_now: bool = False) -> int:
        if self._worker is None:
            self._start_worker()
        state = self._pass
        with state.cond:
            state.requested += 1
            ticket = state.requested
            state.retry_now = state.retry_now or retry_now
        self._wake.set()
        return ticket

    def _wait_for_pass(self, ticket: int, timeout: float) -> bool:
        state = self._pass
        with state.cond:
            return state.cond.wait_for(lambda: state.done >= ticket, timeout)

    def _work(self) -> None:
        state = self._pass
        while True:
            self._wake.wait(self._schedule_delay)
            self._wake.clear()
            with state.cond:
                ticket = state.requested
                retry_now, state.retry_now = state.retry_now, False
            if self._stopping.is_set() and ticket <= state.done:
                return
            try:
                with self._flush_lock:
                    self._flush_locked(retry_now=retry_now)
            except Exception:  # never let the writer die; the error is ours to log
                logger.exception("session exporter failed to flush")
            self._stalled = False
            with state.cond:
                state.done = max(state.done, ticket)
                state.cond.notify_all()

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
        fresh: list[tuple[SessionChanges, int | None]] = [
            (item, None) for item in changes.values() if not item.is_empty()
        ]
        if len(self._buffer):
            if not retry_now and time.monotonic() < self._retry_at:
                for item, _ in fresh:
                    self._buffer.add(item)
                return
            # Held changes go first: a session's events keep their order.
            held = [(item, size) for item, size in self._buffer.take_all()]
            fresh = [*held, *fresh]
        if fresh:
            self._write(fresh)

    def _write(self, changes: list[tuple[SessionChanges, int | None]]) -> None:
        store = self.store if self.store is not None else SessionStoreProvider.get_store()
        # Writes must make no spans; the memory store does no I/O that could,
        # and skipping the attach/detach matters when every run flushes.
        token = None if type(store) is InMemorySessionStore else context.attach(_SUPPRESSED)
        outage = False
        try:
            self._writing = changes
            for index, (item, size) in enumerate(changes):
                self._write_index = index
                if outage:
                    self._buffer.add(item, size)
                    continue
                try:
                    store.apply(item)
                except StoreUnavailableError as exc:
                    outage = True
                    self._buffer.add(item, size)
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
            self._writing = []
            if token is not None:
                context.detach(token)
        if outage:
            self._retry_at = time.monotonic() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, self._retry_max)
        else:
            self._retry_delay = self._retry_initial
            self._written_batches += 1

    # -- process boundaries (``_fork``) ------------------------------------------
    def before_fork(self) -> None:
        # Pause the writer between two writes, so no store lock, file lock or
        # half-written connection is copied into the child; bounded, since a
        # hung store must not block the fork.
        if self._is_writer_thread() or self._stalled:
            return  # a writer stuck in store I/O: waiting for it would only delay the fork
        self._fork_held = self._flush_lock.acquire(timeout=_FORK_WAIT)

    def after_fork_in_parent(self) -> None:
        if self._fork_held:
            self._fork_held = False
            self._flush_lock.release()

    def after_fork_in_child(self) -> None:
        # The parent keeps its queue and buffer and writes them; the child
        # starts over with its own (mapping state included).
        self.mapper = self._new_mapper(self.mapper.capture_content, self.mapper.redact)
        self._start_over()

    def on_process_exit(self) -> None:
        self.shutdown()

    # -- observability ----------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts for monitoring: what is waiting and what was lost.

        ``late``: scope returns that did not see their write within the flush
        deadline (written later, in the background). ``dropped_events`` and
        ``dropped_runs`` count what the retry buffer dropped, including what
        was still unwritten at shutdown (``unwritten_at_shutdown`` events,
        runs and spans). ``unencodable_values``: values this process stored as
        ``{"__unencodable__": ...}`` placeholders (models.json_values)."""
        dropped = self._buffer.dropped
        with self._counts_lock:
            return {
                "queued_spans": len(self._queue),
                "dropped_spans": self._dropped_spans,
                "buffered_sessions": len(self._buffer),
                "buffered_items": self._buffer.items,
                "buffered_bytes": self._buffer.bytes,
                "dropped_events": dropped.events,
                "dropped_runs": dropped.runs,
                "unwritten_at_shutdown": self._unwritten_at_shutdown,
                "late": self._late,
                "store_errors": self._store_errors,
                "failed_items": self._failed_events,
                "written_batches": self._written_batches,
                "unencodable_values": unencodable_count(),
            }

    def reconfigure(
        self,
        *,
        store: SessionStore | None,
        capture_content: bool,
        redact: Callable[[dict[str, Any]], dict[str, Any]] | None,
    ) -> None:
        # What was recorded under the old settings is written under them first
        # (within the flush deadline: a stuck store must not hang configure()).
        self.force_flush(int(self._flush_deadline * 1000))
        locked = self._flush_lock.acquire(timeout=self._flush_deadline)
        try:
            if store is not self.store:
                self._remove_read_barrier(self.store)
            self.store = store
            self.mapper.capture_content = capture_content
            self.mapper.redact = redact
        finally:
            if locked:
                self._flush_lock.release()
