"""One small builder per strategy, and the table that dispatches to them.

Each builder picks turns of the conversation and renders them in the order
they happened, so tool results always follow the call that asked for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from a2a_session_manager.models.hierarchy import HierarchyReader
from a2a_session_manager.models.session import Session
from a2a_session_manager.prompts.ancestry import ancestor_context
from a2a_session_manager.prompts.conversation import ChatMessage, Conversation, Turn, render
from a2a_session_manager.prompts.strategy import PromptStrategy

TASK_NOTE = (
    "Earlier steps of this session are left out. Keep to the original task "
    "(the first user message); the latest exchange follows."
)


@dataclass(frozen=True)
class BuildContext:
    session: Session
    include_parent_context: bool
    store: HierarchyReader | None


Builder = Callable[[Conversation, BuildContext], list[ChatMessage]]


def _in_order(conversation: Conversation, chosen: Iterable[Turn | None]) -> list[Turn]:
    wanted = {id(turn) for turn in chosen if turn is not None}
    return [turn for turn in (*conversation.system, *conversation.turns) if id(turn) in wanted]


def minimal(conversation: Conversation, context: BuildContext) -> list[ChatMessage]:
    latest = conversation.latest_assistant
    turns = _in_order(conversation, [*conversation.instructions, conversation.task, latest])
    messages = render(turns)
    if latest is not None and not latest.tool_calls:
        # A note recorded about the latest reply (the seed's retry note) stands in
        # for the tool results it did not get.
        messages += render(conversation.summaries_of(latest.event_id))
    return messages


def task_focused(conversation: Conversation, context: BuildContext) -> list[ChatMessage]:
    task = conversation.task
    turns = _in_order(
        conversation,
        [
            *conversation.instructions,
            task,
            conversation.latest_user,
            conversation.latest_assistant,
        ],
    )
    messages: list[ChatMessage] = []
    for turn in turns:
        messages += turn.messages()
        if turn is task:
            messages.append({"role": "system", "content": TASK_NOTE})
    return messages


def tool_focused(conversation: Conversation, context: BuildContext) -> list[ChatMessage]:
    latest = conversation.latest_assistant
    tool_turns = [t for t in conversation.turns if t.role == "assistant" and t.tool_calls]
    turns = _in_order(
        conversation, [*conversation.instructions, conversation.task, *tool_turns, latest]
    )
    messages: list[ChatMessage] = []
    for turn in turns:
        messages += turn.messages(compact=turn is not latest)
    return messages


def whole_conversation(conversation: Conversation, context: BuildContext) -> list[ChatMessage]:
    return render([*conversation.system, *conversation.turns])


def hierarchical(conversation: Conversation, context: BuildContext) -> list[ChatMessage]:
    messages = minimal(conversation, context)
    if context.include_parent_context:
        parents = ancestor_context(context.session, context.store)
        if parents is not None:
            messages.insert(0, {"role": "system", "content": parents})
    return messages


BUILDERS: dict[PromptStrategy, Builder] = {
    PromptStrategy.MINIMAL: minimal,
    PromptStrategy.TASK_FOCUSED: task_focused,
    PromptStrategy.TOOL_FOCUSED: tool_focused,
    PromptStrategy.CONVERSATION: whole_conversation,
    PromptStrategy.HIERARCHICAL: hierarchical,
}
