"""Exact counts before an encoding is built, and the build off the caller's thread.

Building a tiktoken encoding costs about 0.3 s of CPU: 160 ms parsing the
ranks file, then about 150 ms in tiktoken's ``CoreBPE`` constructor, which
holds the GIL throughout (it does not release it), so a count on another
thread cannot run meanwhile. The first count in a process therefore never waits
for a build: each encoding gets one background thread that

1. reads the encoding's rank table from the user cache (``_rank_table``, a
   few ms; on the first run on a machine it parses the bundled file instead
   and writes the table for the next processes), and from then on counts go
   to tiktoken's algorithm in Python (``_python_bpe``), exact, for texts it
   can count (well-known scripts, at most about 20 ms of work in Python);
2. waits until no such count has run for ``QUIET`` seconds (at most
   ``MAX_DEFER``), so a build rarely holds the GIL while a count is running;
3. builds the encoding, which counts everything from then on.

A text the Python counter does not take waits for the build, as before. A
count that arrives while the constructor runs waits for the GIL, at most
the constructor's ~150 ms of CPU.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from a2a_session_manager.telemetry._guard import log_internal_error
from a2a_session_manager.tokens import _rank_table, encodings
from a2a_session_manager.tokens._python_bpe import PythonCounter, countable

logger = logging.getLogger(__name__)

QUIET = 0.1
MAX_DEFER = 2.0


class _Loading:
    """One encoding's background load: ``ready`` once the counter is set or the
    load gave up (``counter`` is then ``None``)."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.counter: PythonCounter | None = None


_loadings: dict[str, _Loading] = {}
_lock = threading.Lock()
_last_count = 0.0  # monotonic time a Python count last started or ended


def _forget_after_fork() -> None:
    # The loading threads do not exist in a child: its first count starts anew.
    global _lock
    _lock = threading.Lock()
    _loadings.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def count_text(name: str, text: str) -> int:
    """``len(encoding.encode(text, disallowed_special=()))`` for encoding ``name``,
    without waiting for the encoding to be built when the text allows."""
    encoding = encodings.built(name)
    if encoding is None:
        count = _early_count(name, text) if name in encodings.BUNDLED_FILES else None
        if count is not None:
            return count
        encoding = encodings.get_encoding(name)
    return len(encoding.encode(text, disallowed_special=()))


def _early_count(name: str, text: str) -> int | None:
    if not countable(text):
        return None
    loading = start(name)
    loading.ready.wait()
    counter = loading.counter
    if counter is None:
        return None
    global _last_count
    _last_count = time.monotonic()
    try:
        return counter.count(text)  # None: too much work, the built encoding counts it
    except Exception:
        log_internal_error("counting tokens before the encoding was built")
        return None  # the built encoding counts it
    finally:
        _last_count = time.monotonic()


def start(name: str) -> _Loading:
    """Start loading ``name`` in a daemon thread, once per process."""
    with _lock:
        loading = _loadings.get(name)
        if loading is None:
            loading = _loadings[name] = _Loading()
            thread = threading.Thread(
                target=_load, args=(name, loading), name=f"a2a-tokens-{name}", daemon=True
            )
            thread.start()
    return loading


def load(name: str, meanwhile: Callable[[], None] | None = None) -> None:
    """Load ``name`` on this thread unless a load already started; ``meanwhile``
    (which must not raise) runs once the first counts can be counted, before
    the build: ``warm_up`` loads the prices there."""
    with _lock:
        loading = _loadings.get(name)
        started = loading is not None
        if loading is None:
            loading = _loadings[name] = _Loading()
    if not started:
        _load(name, loading, meanwhile)
    elif meanwhile is not None:  # a count started the load before ``configure``
        meanwhile()


def _load(name: str, loading: _Loading, meanwhile: Callable[[], None] | None = None) -> None:
    global _last_count
    try:
        parsed = None
        try:
            loading.counter, parsed = _python_counter(name)
        finally:
            loading.ready.set()
            _last_count = time.monotonic()
            if meanwhile is not None:
                meanwhile()
        if parsed is not None:  # the first run on this machine: cache for the next processes
            _rank_table.store(name, *parsed)
        _wait_until_quiet()
        encodings.get_encoding(name)
    except Exception:  # the caller's own count says what is wrong
        logger.debug("loading encoding %s in the background failed", name, exc_info=True)
    finally:
        loading.counter = None  # the built encoding counts from now on


def _python_counter(name: str) -> tuple[PythonCounter, tuple[str, dict[bytes, int]] | None]:
    """A counter over the cached rank table; without one, over the parsed
    bundled ranks, returned with their cache key to be cached."""
    params, _, expected_hash = encodings.definition(name)
    key = expected_hash or ""
    table = _rank_table.load(name, key)
    if table is not None:
        return PythonCounter(params["pat_str"], table.get), None
    ranks = encodings.bundled_ranks(name)
    return PythonCounter(params["pat_str"], ranks.get), (key, ranks)


def _wait_until_quiet() -> None:
    deadline = time.monotonic() + MAX_DEFER
    while True:
        now = time.monotonic()
        quiet_for = now - _last_count
        if quiet_for >= QUIET or now >= deadline:
            return
        time.sleep(min(QUIET - quiet_for, deadline - now))
