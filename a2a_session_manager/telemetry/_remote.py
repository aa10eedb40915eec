"""Whether this process reads a session that a remote caller named.

A session id that arrives from another process (``session.id`` in W3C
baggage) is a claim: any caller can name any session. This process never
writes into the session a caller names; whether it *reads* it (a child
session's ``ancestors()``, so the HIERARCHICAL prompt) is the application's
policy, ``configure(remote_sessions=...)``:

``"deny"`` (default)   never read a claimed session
``"allow"``            read every claimed session (every caller is trusted)
a callable             ``policy(session_id, context) -> bool``: called where the
                       claim is used (``asm.session(context=...)``, or a span
                       started under the caller's context), in the request's
                       thread, with the extracted context; only ``True``
                       accepts, and an exception denies (logged)

The decision is recorded with our session (``ParentLink``), so readers later
need no caller at hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal, TypeAlias

from opentelemetry.context import Context

logger = logging.getLogger("a2a_session_manager")

RemoteSessionPolicy: TypeAlias = Callable[[str, Context], bool]
RemoteSessions: TypeAlias = Literal["deny", "allow"] | RemoteSessionPolicy

_policy: RemoteSessionPolicy | None = None


def _allow_every_claim(session_id: str, context: Context) -> bool:
    return True


def set_remote_sessions(policy: RemoteSessions) -> None:
    """Install ``policy``; raises ``ValueError`` for anything else (a typo must
    not silently trust, nor silently deny, every caller)."""
    global _policy
    if policy == "deny":
        _policy = None
    elif policy == "allow":
        _policy = _allow_every_claim
    elif callable(policy):
        _policy = policy
    else:
        raise ValueError(f"remote_sessions must be 'deny', 'allow' or a callable, got {policy!r}")


def claim_accepted(session_id: str, context: Context) -> bool:
    """Whether the policy lets this process read ``session_id``, named by the
    caller whose context is ``context``. Never raises."""
    policy = _policy
    if policy is None:
        return False
    try:
        return policy(session_id, context) is True
    except Exception:
        logger.exception(
            "remote_sessions policy failed for session %r; the claim is not trusted", session_id
        )
        return False
