"""What the parent sessions were about, as one system message's text."""

from __future__ import annotations

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.hierarchy import HierarchyReader
from a2a_session_manager.models.payloads import read_llm_message
from a2a_session_manager.models.session import Session
from a2a_session_manager.prompts.payloads import message_text
from a2a_session_manager.storage.provider import SessionStoreProvider

CONTEXT_HEADER = "Context from parent sessions (oldest first):"


def session_synopsis(session: Session) -> str | None:
    """The session's latest SUMMARY event; else its task and its last reply."""
    for event in reversed(session.events):
        if event.type == EventType.SUMMARY:
            return message_text(event.message, "note", "summary", "content")
    task = next(
        (
            message_text(e.message)
            for e in session.events
            if e.type == EventType.MESSAGE and e.source == EventSource.USER
        ),
        None,
    )
    reply = None
    for event in reversed(session.events):
        if event.type == EventType.MESSAGE and event.source == EventSource.LLM:
            reply = read_llm_message(event.message).content
            if reply:
                break
    parts = []
    if task:
        parts.append(f"Task: {task}")
    if reply:
        parts.append(f"Last response: {reply}")
    return "\n".join(parts) or None


def ancestor_context(session: Session, store: HierarchyReader | None = None) -> str | None:
    """One paragraph per ancestor, root first; ``None`` when none has anything to say.

    Ancestors are read through ``store`` (else the application's store); a
    store error propagates, as from any other read.
    """
    reader = store if store is not None else SessionStoreProvider.get_store()
    sections = []
    for ancestor in reversed(session.ancestors(reader)):
        synopsis = session_synopsis(ancestor)
        if synopsis:
            sections.append(f"Session {ancestor.id}:\n{synopsis}")
    if not sections:
        return None
    return "\n\n".join([CONTEXT_HEADER, *sections])
