"""Loading what the first count and the first price need, off the caller's thread.

A bundled encoding takes about 0.3 s to build and genai-prices up to a second
to import; without this, the first stream without usage, the first prompt
build or the first recorded call pays that on the caller's thread. Only
``o200k_base`` (today's models and the default) is loaded ahead
(``_first_counts.load``: its cached ranks at once, the build once counts
pause): each encoding holds 30-75 MiB once built, and most processes never
count with the legacy ``cl100k_base``, which is loaded when first needed.
"""

from __future__ import annotations

import logging
import os
import threading

from a2a_session_manager.tokens import _first_counts, pricing

logger = logging.getLogger(__name__)

AHEAD = "o200k_base"
_started_in: int | None = None
_lock = threading.Lock()


def _load() -> None:
    # The prices load between the first counts being ready and the build,
    # which waits for counts to pause; both log their own failures.
    _first_counts.load(AHEAD, meanwhile=_load_prices)


def _load_prices() -> None:
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
