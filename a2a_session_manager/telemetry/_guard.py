"""Instrumentation errors never reach user code, except in our own tests.

Code that maps spans, serialises arguments or talks to a store runs under
:func:`internal_errors`. In production a failure there is logged and
swallowed, so an instrumentation bug can never break the application. Under
pytest (``PYTEST_CURRENT_TEST`` is set) the same failure is re-raised, so
bugs fail tests loudly instead of hiding in a log.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("a2a_session_manager")


def log_internal_error(what: str) -> None:
    """Log the exception being handled; re-raise it when running under pytest."""
    if os.environ.get("PYTEST_CURRENT_TEST"):
        raise  # only ever called from an ``except`` block
    logger.exception("a2a-session-manager internal error while %s", what)


@contextmanager
def internal_errors(what: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        log_internal_error(what)
