"""The local session of an A2A conversation, named the same on both sides.

The agent that serves an A2A ``contextId`` records it in ``a2a-{contextId}``
(a caller's ``contextId`` is a claim: it can only name sessions under this
prefix, never one the application opened). The caller, which knows the
``contextId`` from the answer, links that session as a child of its own.
"""

from __future__ import annotations

import hashlib
from typing import Final

SESSION_PREFIX: Final = "a2a-"
_MAX_ID_CHARS: Final = 200


def a2a_session_id(context_id: str) -> str:
    """The session of the A2A conversation ``context_id``; long ids are hashed."""
    if len(context_id) > _MAX_ID_CHARS:
        return SESSION_PREFIX + hashlib.blake2b(context_id.encode(), digest_size=16).hexdigest()
    return SESSION_PREFIX + context_id
