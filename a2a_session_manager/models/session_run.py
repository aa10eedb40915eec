"""A run: one execution of an agent or task inside a session."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, Field

from a2a_session_manager.models.session_metadata import UtcDateTime, utc_now


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SessionRun(BaseModel):
    id: str = Field(default_factory=lambda: uuid4().hex)
    name: str | None = None
    status: RunStatus = RunStatus.PENDING
    started_at: UtcDateTime = Field(default_factory=utc_now)
    ended_at: UtcDateTime | None = None
    parent_run_id: str | None = None
    error: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def mark_running(self) -> None:
        self.status = RunStatus.RUNNING
        self.started_at = utc_now()
        self.ended_at = None

    def mark_completed(self) -> None:
        self.status = RunStatus.COMPLETED
        self.ended_at = utc_now()

    def mark_failed(self, error: str | BaseException | None = None) -> None:
        self.status = RunStatus.FAILED
        self.ended_at = utc_now()
        if error is not None:
            self.error = error if isinstance(error, str) else f"{type(error).__name__}: {error}"

    def mark_cancelled(self) -> None:
        self.status = RunStatus.CANCELLED
        self.ended_at = utc_now()

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()
