"""JSON text for span attributes that never fails, whatever the value.

What cannot be encoded becomes the placeholder described in
:mod:`a2a_session_manager.models.json_values` (the same depth limit and
marker the stores use), and is counted: :func:`unencodable_count`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from a2a_session_manager.models.json_values import (
    MAX_DEPTH,
    json_safe,
    placeholder,
    text_nests_deeper_than,
    unencodable_count,
)

logger = logging.getLogger(__name__)

__all__ = ["from_json_text", "to_json_text", "unencodable_count"]

# One encoder for every call: ``json.dumps`` with options builds a new one each
# time. ``encode`` keeps no state between calls, so threads can share it. It
# refuses (rather than converts) everything that is not plain JSON.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def to_json_text(value: Any) -> str:
    """``value`` as JSON text; what JSON cannot hold becomes a placeholder."""
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        pass  # not plain JSON: made so below
    else:
        if not text_nests_deeper_than(text, value, MAX_DEPTH):
            return text
    try:
        return _ENCODER.encode(json_safe(value))
    except Exception:  # json_safe leaves nothing the encoder refuses; be sure anyway
        logger.debug("encoding a %s failed", type(value).__name__, exc_info=True)
        return _ENCODER.encode(placeholder(value))


def from_json_text(text: Any) -> Any:
    """Parse attribute JSON; text that is not JSON is returned as is."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text
