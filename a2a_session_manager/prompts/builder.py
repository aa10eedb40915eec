"""``build_prompt_from_session``: a session's events → OpenAI chat messages."""

from __future__ import annotations

from typing import Any

from a2a_session_manager.models.hierarchy import HierarchyReader
from a2a_session_manager.models.session import Session
from a2a_session_manager.prompts.conversation import conversation_from_events
from a2a_session_manager.prompts.strategies import BUILDERS, BuildContext
from a2a_session_manager.prompts.strategy import PromptStrategy
from a2a_session_manager.prompts.truncation import truncate_prompt_to_token_limit


def build_prompt_from_session(
    session: Session,
    strategy: PromptStrategy | str = PromptStrategy.CONVERSATION,
    max_tokens: int | None = None,
    model: str = "gpt-4o-mini",
    include_parent_context: bool = False,
    current_query: str | None = None,
    store: HierarchyReader | None = None,
) -> list[dict[str, Any]]:
    """The messages for the next chat call, chosen by ``strategy``.

    Every result is a valid chat request body: each assistant tool call is
    followed by its ``tool`` result, contents are strings. ``current_query``
    is added as the last user message; ``max_tokens`` applies
    :func:`truncate_prompt_to_token_limit` (counted for ``model``). Parent
    sessions (``HIERARCHICAL`` with ``include_parent_context``) are read
    through ``store``, else the application's store.
    """
    if not isinstance(session, Session):  # store.get() returns None for an unknown id
        raise TypeError(f"build_prompt_from_session needs a Session, got {type(session).__name__}")
    try:
        chosen = PromptStrategy(strategy)
    except ValueError:
        valid = ", ".join(s.value for s in PromptStrategy)
        raise ValueError(f"unknown prompt strategy {strategy!r} (one of: {valid})") from None
    conversation = conversation_from_events(session.events)
    context = BuildContext(session, include_parent_context, store)
    messages = BUILDERS[chosen](conversation, context)
    if current_query is not None and messages[-1:] != [{"role": "user", "content": current_query}]:
        messages.append({"role": "user", "content": current_query})
    if max_tokens is not None and messages:
        messages = truncate_prompt_to_token_limit(messages, max_tokens, model)
    return messages
