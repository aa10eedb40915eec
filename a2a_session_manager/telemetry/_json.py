"""JSON text for span attributes that never fails, whatever the value."""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger(__name__)


def _fallback(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    model_dump = getattr(value, "model_dump", None)  # pydantic models keep their fields
    if callable(model_dump):
        try:
            return model_dump(mode="json")
        except Exception:
            logger.debug("model_dump failed for %s", type(value).__name__, exc_info=True)
    return repr(value)


# One encoder for every call: ``json.dumps`` with options builds a new one each
# time. ``encode`` keeps no state between calls, so threads can share it.
_ENCODER = json.JSONEncoder(default=_fallback, ensure_ascii=False)


def to_json_text(value: Any) -> str:
    """``value`` as JSON text; values JSON cannot hold become their ``repr``."""
    try:
        return _ENCODER.encode(value)
    except (ValueError, TypeError, RecursionError):
        # Circular structures, or keys JSON cannot hold (tuples): keep a readable trace.
        pass
    try:
        return json.dumps(repr(value), ensure_ascii=False)
    except Exception:  # nested too deeply even for ``repr``, or a hostile ``__repr__``
        return json.dumps(f"<unserialisable {type(value).__name__}>")


def from_json_text(text: Any) -> Any:
    """Parse attribute JSON; text that is not JSON is returned as is."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text
