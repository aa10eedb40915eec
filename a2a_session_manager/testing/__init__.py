"""Test helpers that ship with the package, so demos run on a fresh install.

``LocalOpenAIServer`` is a real HTTP server on 127.0.0.1 that speaks enough of
the OpenAI API (chat completions and responses, JSON and SSE) for the real
``openai`` client to talk to it; see its module for the details.
"""

from a2a_session_manager.testing._openai_server import (
    ErrorReply,
    LocalOpenAIServer,
    ReceivedRequest,
    Reply,
    ToolCall,
)

__all__ = [
    "ErrorReply",
    "LocalOpenAIServer",
    "ReceivedRequest",
    "Reply",
    "ToolCall",
]
