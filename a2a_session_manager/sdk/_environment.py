"""What ``configure`` reads from the environment beyond the ``OTEL_*`` variables."""

from __future__ import annotations

import logging
import os

from a2a_session_manager.storage.base import SessionStore
from a2a_session_manager.storage.errors import StoreError
from a2a_session_manager.storage.factory import STORE_URL_ENV, create_store

logger = logging.getLogger(__name__)


def store_from_environment() -> SessionStore | None:
    """The store ``A2A_SESSIONS_STORE`` names, or ``None`` when it is unset.
    A URL that names no store we can build is logged, never raised: a
    misconfigured variable must not stop the application."""
    url = os.environ.get(STORE_URL_ENV, "").strip()
    if not url:
        return None
    try:
        return create_store(url)
    except (StoreError, ValueError, ImportError) as exc:
        logger.error(
            "%s=%r names no usable store (%s); sessions go to the current store instead",
            STORE_URL_ENV,
            url,
            exc,
        )
        return None
