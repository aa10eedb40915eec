"""The type of what the prompt builder returns: the ``openai`` client's own
``ChatCompletionMessageParam``, so that ``messages=build_prompt_from_session(...)``
type-checks under ``mypy --strict``. ``openai`` is imported for type
checkers only; at run time the messages are plain dicts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

__all__ = ["ChatMessageParam", "as_chat_params"]

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam as ChatMessageParam
else:
    ChatMessageParam = dict[str, Any]


def as_chat_params(messages: list[dict[str, Any]]) -> list[ChatMessageParam]:
    """The builder's messages under their public type (each is a valid chat
    message: the builder only ever renders the shapes ``openai`` accepts)."""
    return cast("list[ChatMessageParam]", messages)
