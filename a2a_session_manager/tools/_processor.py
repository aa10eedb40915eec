"""``SessionAwareToolProcessor``: runs the tool calls of an LLM reply and records
the whole exchange in a session, through the same spans as everything else.

One call of ``process_llm_message`` records, in the processor's session:

* a run (``SessionRun``) around the batch: completed, or failed with the error;
* each LLM reply it handles as an LLM event; a reply it cannot use is recorded
  with type ``invalid_tool_call`` (kept out of prompts built from the session)
  and followed by an ``llm_retry`` event (source system) whose
  ``metadata["parent_event_id"]`` is that reply;
* each tool call as a TOOL_CALL event whose ``metadata["parent_event_id"]``
  is the reply that asked for it, and whose ``task_id`` is the run.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, Self

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.sdk import configure, current_session_id, record_event, run, session
from a2a_session_manager.sdk._configure import current_handle
from a2a_session_manager.storage.errors import SessionNotFoundError, validate_session_id
from a2a_session_manager.storage.provider import SessionStoreProvider
from a2a_session_manager.tools._errors import ToolProcessingError
from a2a_session_manager.tools._execution import ToolRunner
from a2a_session_manager.tools._lookup import ToolLookup, Tools
from a2a_session_manager.tools._parsing import ParsedReply, ToolCall, parse_reply
from a2a_session_manager.tools._resolved import ResolvedTool
from a2a_session_manager.tools._results import ToolResult

logger = logging.getLogger(__name__)

LLMCall = Callable[[str], Awaitable[Any] | Any]

DEFAULT_RETRY_PROMPT = (
    "Your previous reply contained no valid tool call. "
    "Reply with a tool call to one of the declared tools, with JSON object arguments."
)
# Event types of our own: stores keep them, prompt builders skip them.
INVALID_TOOL_CALL = "invalid_tool_call"
LLM_RETRY = "llm_retry"

_MAX_ERROR_PROBLEMS = 5


def _ensure_recording() -> None:
    """Record into ``SessionStoreProvider``'s store when the application has
    not called ``configure`` (it is idempotent; an explicit call wins later)."""
    if current_handle() is None:
        configure()


class SessionAwareToolProcessor:
    """Executes the tool calls an LLM asks for and records them in ``session_id``.

    Tools are looked up by name in ``tools`` (a mapping of names to callables,
    or a list of callables named by ``__name__``), then among functions
    decorated with ``@tool``, then (``use_chuk_registry``, the ``[tools]``
    extra) in chuk-tool-processor's registry. Sync and async tools run
    concurrently (at most ``max_concurrency`` at once), each under ``timeout``
    seconds (``None``: no limit; a registry's own per-tool timeout wins).

    Set ``record_llm_message=False`` when the reply was already recorded by
    the instrumented OpenAI client (its chat span): tool calls are then linked
    to that LLM event by call id instead of being recorded a second time.
    """

    def __init__(
        self,
        session_id: str,
        *,
        max_llm_retries: int = 2,
        llm_retry_prompt: str | None = None,
        tools: Tools | None = None,
        timeout: float | None = 30.0,
        max_concurrency: int = 16,
        run_name: str = "tool_calls",
        record_llm_message: bool = True,
        use_chuk_registry: bool = True,
        chuk_registry: Any | None = None,
    ) -> None:
        if max_llm_retries < 0:
            raise ValueError("max_llm_retries must not be negative")
        self.session_id = validate_session_id(session_id)
        self.max_llm_retries = max_llm_retries
        self.llm_retry_prompt = llm_retry_prompt or DEFAULT_RETRY_PROMPT
        self.run_name = run_name
        self.record_llm_message = record_llm_message
        self._lookup = ToolLookup(tools, use_chuk=use_chuk_registry, chuk_registry=chuk_registry)
        self._runner = ToolRunner(timeout=timeout, max_concurrency=max_concurrency)

    @classmethod
    async def create(cls, session_id: str, **kwargs: Any) -> Self:
        """A processor for a session that must already exist in the application's
        store; raises ``SessionNotFoundError`` otherwise."""
        store = SessionStoreProvider.get_store()
        if not await asyncio.to_thread(store.exists, validate_session_id(session_id)):
            raise SessionNotFoundError(f"session {session_id!r} not found")
        return cls(session_id, **kwargs)

    def close(self) -> None:
        """Nothing to release any more: each sync tool call runs in a daemon
        thread of its own, which ends with the call. Kept so that callers keep working."""

    async def process_llm_message(
        self, llm_message: Any, llm_call_fn: LLMCall | None = None
    ) -> list[ToolResult]:
        """Run the tool calls of ``llm_message``; one :class:`ToolResult` per call, in order.

        ``llm_message`` is an OpenAI assistant message (dict or ``openai``
        object, ``tool_calls`` or legacy ``function_call``), a whole chat
        completion, or its JSON text. A tool that raises, times out or gets
        arguments its signature rejects gives a result with ``error`` set; the
        other calls are unaffected.

        A reply with no tool call, malformed JSON arguments or an unknown tool
        name runs nothing: ``llm_call_fn(llm_retry_prompt)`` (sync or async)
        is asked for a new reply, up to ``max_llm_retries`` times. When every
        reply was unusable the run is recorded failed and
        :class:`ToolProcessingError` is raised. An exception from
        ``llm_call_fn`` propagates unchanged (the run is recorded failed).
        """
        _ensure_recording()
        in_session: AbstractAsyncContextManager[Any] = (
            nullcontext() if current_session_id() == self.session_id else session(self.session_id)
        )
        async with in_session, run(self.run_name) as active_run:
            return await self._process(active_run.id, llm_message, llm_call_fn)

    async def _process(
        self, run_id: str, reply: Any, llm_call_fn: LLMCall | None
    ) -> list[ToolResult]:
        attempt = 0
        while True:
            parsed = parse_reply(reply)
            resolved, problems = await self._resolve(parsed)
            event_id = self._record_reply(parsed, problems, attempt)
            if not problems:
                return await self._runner.run_all(resolved, event_id)
            if llm_call_fn is None or attempt >= self.max_llm_retries:
                raise self._exhausted(run_id, attempt + 1, problems)
            attempt += 1
            logger.info(
                "tool processor: retrying the LLM (%d of %d): %s",
                attempt,
                self.max_llm_retries,
                "; ".join(problems),
            )
            record_event(
                {"attempt": attempt, "prompt": self.llm_retry_prompt, "problems": problems},
                source=EventSource.SYSTEM,
                type=LLM_RETRY,
                metadata={"parent_event_id": event_id} if event_id is not None else None,
            )
            reply = llm_call_fn(self.llm_retry_prompt)
            if inspect.isawaitable(reply):
                reply = await reply

    async def _resolve(
        self, parsed: ParsedReply
    ) -> tuple[list[tuple[ToolCall, ResolvedTool]], list[str]]:
        problems = list(parsed.problems)
        resolved: list[tuple[ToolCall, ResolvedTool]] = []
        for index, call in enumerate(parsed.calls):
            if call.problem is not None:
                continue
            found = await self._lookup.find(call.name)
            if found is None:
                problems.append(f"tool call {index}: unknown tool {call.name!r}")
            else:
                resolved.append((call, found))
        return resolved, problems

    def _record_reply(self, parsed: ParsedReply, problems: list[str], attempt: int) -> str | None:
        """Record the reply as an LLM event; its id is the tool calls' parent."""
        if not self.record_llm_message:
            return None
        metadata: dict[str, Any] = {"attempt": attempt}
        if problems:
            metadata["problems"] = problems
        return record_event(
            parsed.as_message(),
            source=EventSource.LLM,
            type=INVALID_TOOL_CALL if problems else EventType.MESSAGE,
            metadata=metadata,
        )

    def _exhausted(self, run_id: str, attempts: int, problems: list[str]) -> ToolProcessingError:
        shown = "; ".join(problems[:_MAX_ERROR_PROBLEMS])
        if len(problems) > _MAX_ERROR_PROBLEMS:
            shown += f"; and {len(problems) - _MAX_ERROR_PROBLEMS} more"
        replies = "reply" if attempts == 1 else "replies"
        return ToolProcessingError(
            f"no valid tool call in {attempts} LLM {replies} (max_llm_retries="
            f"{self.max_llm_retries}): {shown}",
            session_id=self.session_id,
            run_id=run_id,
            attempts=attempts,
            problems=problems,
        )
