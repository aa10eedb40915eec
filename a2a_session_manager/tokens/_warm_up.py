"""Loading what the first count and the first price need, off the caller's thread.

The bundled encodings take about a second each to build and genai-prices
about a second to import; without this, the first stream without usage, the
first prompt build or the first recorded call pays that on the caller's
thread. Only ``o200k_base`` (today's models and the default) is built ahead:
each encoding holds 30-75 MiB once built, and most processes never count
with the legacy ``cl100k_base``, which is built when first needed.
"""

from __future__ import annotations

import logging
import os
import threading

from a2a_session_manager.tokens import pricing
from a2a_session_manager.tokens.encodings import get_encoding

logger = logging.getLogger(__name__)

AHEAD = "o200k_base"
_started_in: int | None = None
_lock = threading.Lock()


def _load() -> None:
    try:
        get_encoding(AHEAD)
    except Exception:  # the caller's own count says what is wrong
        logger.debug("loading encoding %s in the background failed", AHEAD, exc_info=True)
    try:
        pricing.warm_up()
    except Exception:
        logger.debug("loading genai-prices in the background failed", exc_info=True)


def warm_up() -> threading.Thread | None:
    """Build today's encoding and load the prices in a daemon thread, once per
    process (``None`` when already started)."""
    global _started_in
    with _lock:
        if _started_in == os.getpid():
            return None
        _started_in = os.getpid()
    thread = threading.Thread(target=_load, name="a2a-warm-up", daemon=True)
    thread.start()
    return thread
