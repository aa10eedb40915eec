"""One thing that happened in a session: a message, an LLM reply, a tool call."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from pydantic import BaseModel, Field

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.session_metadata import UtcDateTime, utc_now
from a2a_session_manager.models.token_usage import TokenUsage


class SessionEvent(BaseModel):
    """An event. ``message`` is any JSON value (text, a dict, a list).

    ``type`` accepts the built-in :class:`EventType` values and any other
    string, kept as is, so applications can define their own kinds.
    """

    id: str = Field(default_factory=lambda: uuid4().hex)
    timestamp: UtcDateTime = Field(default_factory=utc_now)
    message: Any = None
    task_id: str | None = None
    # left_to_right: a known value becomes the enum, anything else stays a str
    # (no Python validator: this runs for every event of every cold read).
    type: EventType | str = Field(default=EventType.MESSAGE, union_mode="left_to_right")
    source: EventSource = EventSource.LLM
    metadata: dict[str, Any] = Field(default_factory=dict)
    token_usage: TokenUsage | None = None

    @classmethod
    def create_with_tokens(
        cls,
        message: Any,
        prompt: str,
        completion: str | None = None,
        model: str = "gpt-4o-mini",
        source: EventSource = EventSource.LLM,
        type: EventType | str = EventType.MESSAGE,
        **fields: Any,
    ) -> SessionEvent:
        """An event whose token usage is counted exactly from ``prompt`` and ``completion``."""
        return cls(
            message=message,
            source=source,
            type=type,
            token_usage=TokenUsage.from_text(prompt, completion, model),
            **fields,
        )

    def update_token_usage(
        self,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        model: str | None = None,
        cached_input_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        cache_write_input_tokens: int | None = None,
    ) -> None:
        """Set (not add) the given counts; unspecified ones keep their value."""
        old = self.token_usage or TokenUsage(model=model or "")
        self.token_usage = TokenUsage(
            prompt_tokens=old.prompt_tokens if prompt_tokens is None else prompt_tokens,
            completion_tokens=(
                old.completion_tokens if completion_tokens is None else completion_tokens
            ),
            cached_input_tokens=(
                old.cached_input_tokens if cached_input_tokens is None else cached_input_tokens
            ),
            reasoning_tokens=(
                old.reasoning_tokens if reasoning_tokens is None else reasoning_tokens
            ),
            cache_write_input_tokens=(
                old.cache_write_input_tokens
                if cache_write_input_tokens is None
                else cache_write_input_tokens
            ),
            model=model or old.model,
            source=old.source if self.token_usage else "counted",
        )
