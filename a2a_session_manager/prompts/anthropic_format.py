"""The next prompt for Anthropic's Messages API: ``system`` + ``messages``.

:func:`build_anthropic_prompt_from_session` builds the same conversation as
:func:`~a2a_session_manager.prompts.build_prompt_from_session` (same
strategies, from sessions recorded with either client) and renders it the
way the Messages API requires::

    prompt = build_anthropic_prompt_from_session(session)
    client.messages.create(model="claude-sonnet-4-5", max_tokens=1024, **prompt)

- the leading system messages become ``system`` (joined by blank lines);
  a system message later in the conversation (a recorded summary) becomes
  user text, since the API has no system role among messages;
- an assistant's tool calls become ``tool_use`` blocks (arguments parsed:
  an object as is, anything else as ``{"input": value}``), and their results
  ``tool_result`` blocks in the next user message, with the same ids;
- consecutive messages of one role are merged, so roles alternate, and a
  conversation that would start with the assistant starts with
  ``CONTINUATION_NOTE`` from the user.

Truncation (``max_tokens``) and which count it uses: Claude's tokenizer is
not public, so no local count is Anthropic's. By default the prompt is cut
with the exact tiktoken count of its chat rendering for ``model`` (what
:func:`~a2a_session_manager.prompts.truncate_prompt_to_token_limit` counts):
exact for that tokenizer, an estimate of what Anthropic bills (Claude
usually counts more tokens for the same text, so leave headroom). Pass
``count=`` a function giving Anthropic's count of a prompt (for example one
that calls ``client.messages.count_tokens(model=..., **prompt).input_tokens``)
and the result is exact for Anthropic: the budget is lowered until that
count is at most ``max_tokens`` (a few calls of ``count``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NotRequired, TypedDict

from a2a_session_manager.models.hierarchy import HierarchyReader
from a2a_session_manager.models.session import Session
from a2a_session_manager.prompts.builder import build_prompt_from_session
from a2a_session_manager.prompts.strategy import PromptStrategy
from a2a_session_manager.prompts.truncation import truncate_prompt_to_token_limit

CONTINUATION_NOTE = "(The conversation so far follows.)"


class AnthropicPrompt(TypedDict):
    """Keyword arguments for ``messages.create``: ``system`` only when there is one."""

    system: NotRequired[str]
    messages: list[dict[str, Any]]


def _tool_input(arguments: Any) -> dict[str, Any]:
    value = arguments
    if isinstance(arguments, str):
        try:
            value = json.loads(arguments)
        except ValueError:
            value = arguments
    return value if isinstance(value, dict) else {"input": value}


def _blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    role = message.get("role")
    content = message.get("content")
    if role == "tool":
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        return [
            {"type": "tool_result", "tool_use_id": message.get("tool_call_id"), "content": text}
        ]
    blocks: list[dict[str, Any]] = []
    if isinstance(content, str) and content.strip():
        blocks.append({"type": "text", "text": content})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": _tool_input(function.get("arguments")),
            }
        )
    return blocks


def to_anthropic(messages: Sequence[Mapping[str, Any]]) -> AnthropicPrompt:
    """Chat messages (what ``build_prompt_from_session`` returns) as a Messages API request."""
    system: list[str] = []
    rendered: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "system" and not rendered:
            if isinstance(message.get("content"), str) and message["content"]:
                system.append(message["content"])
            continue
        api_role = "assistant" if role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if rendered and rendered[-1]["role"] == api_role:
            previous = rendered[-1]["content"]
            # Tool results lead a user message: the API reads them first.
            results = [b for b in blocks if b["type"] == "tool_result"]
            others = [b for b in blocks if b["type"] != "tool_result"]
            rendered[-1]["content"] = [
                *[b for b in previous if b["type"] == "tool_result"],
                *results,
                *[b for b in previous if b["type"] != "tool_result"],
                *others,
            ]
        else:
            rendered.append({"role": api_role, "content": blocks})
    if rendered and rendered[0]["role"] != "user":
        rendered.insert(
            0, {"role": "user", "content": [{"type": "text", "text": CONTINUATION_NOTE}]}
        )
    prompt: AnthropicPrompt = {"messages": rendered}
    if system:
        prompt["system"] = "\n\n".join(system)
    return prompt


def build_anthropic_prompt_from_session(
    session: Session,
    strategy: PromptStrategy | str = PromptStrategy.CONVERSATION,
    max_tokens: int | None = None,
    model: str = "gpt-4o-mini",
    include_parent_context: bool = False,
    current_query: str | None = None,
    store: HierarchyReader | None = None,
    run_id: str | None = None,
    count: Callable[[AnthropicPrompt], int] | None = None,
) -> AnthropicPrompt:
    """``system`` + ``messages`` for Anthropic's Messages API, chosen by
    ``strategy`` as :func:`build_prompt_from_session` chooses them.

    ``max_tokens`` cuts the prompt: counted with tiktoken for ``model`` (an
    OpenAI model name: the tokenizer used), or exactly with ``count`` when
    given (see the module docstring). Raises ``ValueError`` when even the
    system messages, the task and the latest turn do not fit.
    """
    messages = build_prompt_from_session(
        session,
        strategy,
        model=model,
        include_parent_context=include_parent_context,
        current_query=current_query,
        store=store,
        run_id=run_id,
    )
    chat: list[Mapping[str, Any]] = list(messages)  # type: ignore[arg-type]
    if max_tokens is None:
        return to_anthropic(chat)
    budget = max_tokens
    while True:
        prompt = to_anthropic(truncate_prompt_to_token_limit(chat, budget, model))
        if count is None:
            return prompt
        counted = count(prompt)
        if counted <= max_tokens:
            return prompt
        # Scale the tiktoken budget by how far Anthropic's count overshot; strictly lower.
        budget = min(budget - 1, budget * max_tokens // counted)
