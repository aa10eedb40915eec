"""``abuild_prompt_from_session``: the prompt builder for async code."""

from __future__ import annotations

import asyncio
from typing import Any

from a2a_session_manager.models.hierarchy import HierarchyReader
from a2a_session_manager.models.session import Session
from a2a_session_manager.prompts.builder import build_prompt_from_session
from a2a_session_manager.prompts.messages import ChatMessageParam
from a2a_session_manager.prompts.strategy import PromptStrategy
from a2a_session_manager.storage.errors import SessionNotFoundError
from a2a_session_manager.storage.provider import SessionStoreProvider


async def abuild_prompt_from_session(
    session: Session | str,
    strategy: PromptStrategy | str = PromptStrategy.CONVERSATION,
    max_tokens: int | None = None,
    model: str = "gpt-4o-mini",
    include_parent_context: bool = False,
    current_query: str | None = None,
    store: HierarchyReader | None = None,
    run_id: str | None = None,
) -> list[ChatMessageParam]:
    """:func:`build_prompt_from_session` for async code: the event loop never
    waits on a store read or on token counting.

    ``session`` may be an id: it is read with the store's ``aget`` (``store``,
    else the application's store; ``SessionNotFoundError`` if it does not
    exist). The build itself (parent sessions' reads, exact token counts)
    runs in a worker thread.
    """
    if isinstance(session, str):
        reader: Any = store if store is not None else SessionStoreProvider.get_store()
        aget = getattr(reader, "aget", None)
        found = await aget(session) if aget else await asyncio.to_thread(reader.get, session)
        if found is None:
            raise SessionNotFoundError(f"no session {session[:200]!r} in this store")
        loaded: Session = found
    else:
        loaded = session
    return await asyncio.to_thread(
        build_prompt_from_session,
        loaded,
        strategy,
        max_tokens,
        model,
        include_parent_context,
        current_query,
        store,
        run_id,
    )
