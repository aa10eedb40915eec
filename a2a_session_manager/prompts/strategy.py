"""The ways of choosing what of a session goes into the next prompt."""

from enum import StrEnum


class PromptStrategy(StrEnum):
    """What ``build_prompt_from_session`` keeps (values are the seed's)."""

    MINIMAL = "minimal"  # the task, the latest assistant reply and its tool results
    TASK_FOCUSED = "task"  # the task, a note, the latest exchange
    TOOL_FOCUSED = "tool"  # the task, every tool call with its result, the latest reply
    CONVERSATION = "conversation"  # the whole conversation in order
    HIERARCHICAL = "hierarchical"  # parent sessions' context, then the minimal view
