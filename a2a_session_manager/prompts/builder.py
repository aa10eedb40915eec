"""``build_prompt_from_session``: a session's events → OpenAI chat messages."""

from __future__ import annotations

from a2a_session_manager.models.event_order import events_in_run_order, run_and_descendants
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.hierarchy import HierarchyReader
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.prompts.conversation import Conversation, conversation_from_events
from a2a_session_manager.prompts.messages import ChatMessageParam, as_chat_params
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
    run_id: str | None = None,
) -> list[ChatMessageParam]:
    """The messages for the next chat call, chosen by ``strategy``.

    Every result is a valid chat request body (typed as the ``openai``
    client's ``messages=``): each assistant tool call is followed by its
    ``tool`` result, contents are strings. The system messages of the latest
    recorded instructions come first. Each run's events stay together (runs
    that were in flight at once are never interleaved); ``run_id`` builds
    from that run and the runs nested in it only (``ValueError`` if the
    session has no such run). ``current_query`` is added
    as the last user message; ``max_tokens`` applies
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
    conversation = _conversation(session, run_id)
    context = BuildContext(session, include_parent_context, store)
    messages = BUILDERS[chosen](conversation, context)
    if current_query is not None and messages[-1:] != [{"role": "user", "content": current_query}]:
        messages.append({"role": "user", "content": current_query})
    if max_tokens is not None and messages:
        messages = truncate_prompt_to_token_limit(messages, max_tokens, model)
    return as_chat_params(messages)


def _conversation(session: Session, run_id: str | None) -> Conversation:
    ordered = events_in_run_order(session.events, session.runs)
    if run_id is None:
        return conversation_from_events(ordered)
    members = run_and_descendants(session.runs, run_id)
    chosen = [e for e in ordered if e.task_id in members]
    if not chosen and all(run.id != run_id for run in session.runs):
        raise ValueError(f"session {session.id!r} has no run {run_id!r}")
    # Instructions are recorded when they change: the run may use ones recorded before it.
    earlier: SessionEvent | None = None
    first = chosen[0] if chosen else None
    for event in ordered:
        if event is first:
            break
        if event.type == EventType.INSTRUCTIONS:
            earlier = event
    return conversation_from_events(chosen, instructions=earlier)
