"""Build the next prompt from a session: strategies, exact-token truncation."""

from a2a_session_manager.prompts.anthropic_format import (
    AnthropicPrompt,
    build_anthropic_prompt_from_session,
    to_anthropic,
)
from a2a_session_manager.prompts.async_builder import abuild_prompt_from_session
from a2a_session_manager.prompts.builder import build_prompt_from_session
from a2a_session_manager.prompts.conversation import NO_RESULT
from a2a_session_manager.prompts.strategy import PromptStrategy
from a2a_session_manager.prompts.truncation import TRUNCATION_MARKER, truncate_prompt_to_token_limit

__all__ = [
    "NO_RESULT",
    "TRUNCATION_MARKER",
    "AnthropicPrompt",
    "PromptStrategy",
    "abuild_prompt_from_session",
    "build_anthropic_prompt_from_session",
    "build_prompt_from_session",
    "to_anthropic",
    "truncate_prompt_to_token_limit",
]
