"""Instrumentation errors never reach user code, except in our own tests.

Attribute extraction and stream accumulation run under :func:`internal_errors`:
in production a failure is logged at debug level and swallowed, so a parsing
bug can never break a call that succeeded. Under pytest (``PYTEST_CURRENT_TEST``
is set) the same failure is re-raised, so bugs fail our tests loudly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)


def log_internal_error(what: str) -> None:
    """Log the exception being handled; re-raise it when running under pytest."""
    if os.environ.get("PYTEST_CURRENT_TEST"):
        raise  # only ever called from an ``except`` block
    logger.debug("openai instrumentation failed while %s", what, exc_info=True)


@contextmanager
def internal_errors(what: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        log_internal_error(what)
