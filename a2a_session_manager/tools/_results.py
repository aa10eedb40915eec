"""What one tool call produced."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ToolResult(BaseModel):
    """The outcome of one tool call, in the order the LLM asked for the calls.

    Exactly one of ``result`` / ``error`` is meaningful: ``error`` is set when
    the tool raised, timed out, was unknown or got arguments its signature
    rejects (``error_type`` names the exception class), and ``result`` is
    then ``None``.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    tool: str
    call_id: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None
