"""Session id <-> log file name, so that no id can address a path outside the
store's directory.

Three forms, told apart by their first character, so they never collide:

- ``abc-123_x.y.jsonl``: ids made only of ``[a-z0-9._-]`` (not starting with
  a dot, at most 200 characters) stay readable. Upper case is excluded so
  that two ids never share a file on case-insensitive file systems.
- ``~<base32>.jsonl``: any other id whose lower-case base32 form still fits
  comfortably in a file name; reversible, so listing needs no read.
- ``=<sha256 hex>.jsonl``: longer ids. The true id is only inside the log
  (its first record), which is where ``list_sessions`` finds it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

LOG_SUFFIX = ".jsonl"
_MAX_STEM = 200  # well below the usual 255-byte NAME_MAX, leaving room for the suffix
_READABLE = re.compile(r"[a-z0-9_-][a-z0-9._-]*")
_ENCODED = "~"
_HASHED = "="
_BASE32_CHARS = re.compile(r"[a-z2-7]+")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


def log_name(session_id: str) -> str:
    """The file name of ``session_id``'s log (a valid id, see validate_session_id)."""
    if len(session_id) <= _MAX_STEM and _READABLE.fullmatch(session_id):
        return session_id + LOG_SUFFIX
    raw = session_id.encode("utf-8")
    encoded = base64.b32encode(raw).decode("ascii").rstrip("=").lower()
    if len(encoded) < _MAX_STEM:
        return _ENCODED + encoded + LOG_SUFFIX
    return _HASHED + hashlib.sha256(raw).hexdigest() + LOG_SUFFIX


def id_from_log_name(name: str) -> str | None:
    """The id a readable or encoded name stands for; ``None`` for a hashed name
    or a file that is not a log of this store (see ``is_hashed_log_name``)."""
    if not name.endswith(LOG_SUFFIX):
        return None
    stem = name[: -len(LOG_SUFFIX)]
    if stem.startswith(_ENCODED):
        body = stem[1:]
        if not _BASE32_CHARS.fullmatch(body):
            return None
        padded = body.upper() + "=" * (-len(body) % 8)
        try:
            session_id = base64.b32decode(padded).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        # Only the canonical name of an id counts (no second name for one id).
        return session_id if log_name(session_id) == name else None
    if len(stem) <= _MAX_STEM and _READABLE.fullmatch(stem):
        return stem
    return None


def is_hashed_log_name(name: str) -> bool:
    return (
        name.startswith(_HASHED)
        and name.endswith(LOG_SUFFIX)
        and bool(_HEX_SHA256.fullmatch(name[1 : -len(LOG_SUFFIX)]))
    )
