"""Loading what the first count and the first price need, off the caller's thread.

The bundled encodings take about a second each to build and genai-prices
about a second to import; without this, the first stream without usage, the
first prompt build or the first recorded call pays that on the caller's
thread.
"""

from __future__ import annotations

import logging
import os
import threading

from a2a_session_manager.tokens import pricing
from a2a_session_manager.tokens.encodings import BUNDLED_FILES, get_encoding

logger = logging.getLogger(__name__)

_started_in: int | None = None
_lock = threading.Lock()


def _load() -> None:
    for name in BUNDLED_FILES:  # o200k_base first: today's models and the default
        try:
            get_encoding(name)
        except Exception:  # the caller's own count says what is wrong
            logger.debug("loading encoding %s in the background failed", name, exc_info=True)
    try:
        pricing.warm_up()
    except Exception:
        logger.debug("loading genai-prices in the background failed", exc_info=True)


def warm_up() -> threading.Thread | None:
    """Build the encodings and load the prices in a daemon thread, once per
    process (``None`` when already started)."""
    global _started_in
    with _lock:
        if _started_in == os.getpid():
            return None
        _started_in = os.getpid()
    thread = threading.Thread(target=_load, name="a2a-warm-up", daemon=True)
    thread.start()
    return thread
