"""Test helpers that ship with the package, so demos run on a fresh install.

``LocalOpenAIServer`` is a real HTTP server on 127.0.0.1 that speaks enough of
the OpenAI API (chat completions and responses, JSON and SSE) for the real
``openai`` client to talk to it; ``LocalAnthropicServer`` does the same for the
``anthropic`` client (the Messages API). See their modules for the details.
"""

from a2a_session_manager.testing._anthropic_server import AnthropicReply, LocalAnthropicServer
from a2a_session_manager.testing._openai_server import (
    ErrorReply,
    LocalOpenAIServer,
    ReceivedRequest,
    Reply,
    ToolCall,
)

__all__ = [
    "AnthropicReply",
    "ErrorReply",
    "LocalAnthropicServer",
    "LocalOpenAIServer",
    "ReceivedRequest",
    "Reply",
    "ToolCall",
]
