"""Errors of the tool processor.

    ToolProcessingError      no valid tool call after every retry (raised)
    ToolTimeoutError         a tool ran past its timeout      (recorded, never raised)
    ToolArgumentsError       arguments that the tool's signature rejects (recorded)

Only ``ToolProcessingError`` reaches the caller of ``process_llm_message``;
the other two describe a single call's failure: they are recorded on its
``execute_tool`` span and reported in its :class:`ToolResult`.
"""

from __future__ import annotations


class ToolProcessingError(Exception):
    """The LLM gave no valid tool call, even after ``max_llm_retries`` retries.

    ``problems`` lists what was wrong with the last reply; the run recorded
    for the batch ends failed with this error's message.
    """

    def __init__(
        self,
        message: str,
        *,
        session_id: str,
        run_id: str | None,
        attempts: int,
        problems: list[str],
    ) -> None:
        super().__init__(message)
        self.session_id = session_id
        self.run_id = run_id
        self.attempts = attempts
        self.problems = problems


class ToolTimeoutError(TimeoutError):
    """A tool call did not finish within its timeout."""


class ToolArgumentsError(TypeError):
    """A tool call's arguments do not fit the tool's signature."""
