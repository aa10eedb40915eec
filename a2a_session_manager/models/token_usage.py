"""Token usage of one LLM call, and the running summary of a session."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from a2a_session_manager.tokens.counting import count_tokens
from a2a_session_manager.tokens.pricing import estimate_cost

UsageSource = Literal["provider", "counted"]


class TokenUsage(BaseModel):
    """Tokens of one call.

    ``source`` says whether the numbers come from the provider's response
    (exact, including cached and reasoning tokens) or were counted locally
    with tiktoken. As in the GenAI conventions, ``prompt_tokens`` includes the
    cache-read (``cached_input_tokens``) and cache-write
    (``cache_write_input_tokens``) tokens. ``estimated_cost_usd`` is ``None``
    when the model has no known price: we never invent one.
    """

    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    cached_input_tokens: int = Field(default=0, ge=0)
    cache_write_input_tokens: int = Field(default=0, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)
    total_tokens: int = Field(default=0, ge=0)
    model: str = ""
    estimated_cost_usd: float | None = None
    source: UsageSource = "counted"

    @model_validator(mode="after")
    def _derive(self) -> TokenUsage:
        # Totals and cost are derived unless given (a loaded record keeps the
        # cost it was priced at, even if the price table changed since).
        if self.total_tokens < self.prompt_tokens + self.completion_tokens:
            object.__setattr__(self, "total_tokens", self.prompt_tokens + self.completion_tokens)
        if self.estimated_cost_usd is None and self.model:
            object.__setattr__(self, "estimated_cost_usd", self.calculate_cost())
        return self

    def calculate_cost(self) -> float | None:
        return estimate_cost(
            self.model,
            input_tokens=self.prompt_tokens,
            output_tokens=self.completion_tokens,
            cached_input_tokens=self.cached_input_tokens,
            cache_write_input_tokens=self.cache_write_input_tokens,
        )

    def update(
        self,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cached_input_tokens: int = 0,
        reasoning_tokens: int = 0,
        cache_write_input_tokens: int = 0,
    ) -> None:
        """Add tokens to this usage and re-price it."""
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cached_input_tokens += cached_input_tokens
        self.reasoning_tokens += reasoning_tokens
        self.cache_write_input_tokens += cache_write_input_tokens
        self.total_tokens = self.prompt_tokens + self.completion_tokens
        self.estimated_cost_usd = self.calculate_cost() if self.model else None

    @classmethod
    def from_text(
        cls, prompt: str, completion: str | None = None, model: str = "gpt-4o-mini"
    ) -> TokenUsage:
        """Count ``prompt`` and ``completion`` exactly with the model's encoding."""
        return cls(
            prompt_tokens=count_tokens(prompt, model),
            completion_tokens=count_tokens(completion, model) if completion else 0,
            model=model,
            source="counted",
        )

    @staticmethod
    def count_tokens(text: str | None, model: str = "gpt-4o-mini") -> int:
        return count_tokens(text or "", model)


class TokenSummary(BaseModel):
    """Usage added up over a session, per model."""

    total_prompt_tokens: int = 0
    total_completion_tokens: int = 0
    total_tokens: int = 0
    total_estimated_cost_usd: float = 0.0
    usage_by_model: dict[str, TokenUsage] = Field(default_factory=dict)

    def add_usage(self, usage: TokenUsage) -> None:
        self.total_prompt_tokens += usage.prompt_tokens
        self.total_completion_tokens += usage.completion_tokens
        self.total_tokens += usage.total_tokens
        if usage.estimated_cost_usd:
            self.total_estimated_cost_usd += usage.estimated_cost_usd
        key = usage.model or "unknown"
        acc = self.usage_by_model.get(key)
        if acc is None:
            self.usage_by_model[key] = usage.model_copy()
            return
        acc.prompt_tokens += usage.prompt_tokens
        acc.completion_tokens += usage.completion_tokens
        acc.cached_input_tokens += usage.cached_input_tokens
        acc.cache_write_input_tokens += usage.cache_write_input_tokens
        acc.reasoning_tokens += usage.reasoning_tokens
        acc.total_tokens += usage.total_tokens
        if usage.estimated_cost_usd is not None:
            acc.estimated_cost_usd = (acc.estimated_cost_usd or 0.0) + usage.estimated_cost_usd

    @classmethod
    def from_usages(cls, usages: Iterable[TokenUsage | None]) -> TokenSummary:
        """The summary ``add_usage`` over every usage gives, added up in plain
        numbers first: pydantic attribute assignment per usage would cost more
        than parsing a whole stored session."""
        prompt = completion = total = 0
        cost = 0.0
        by_model: dict[str, list[Any]] = {}
        for usage in usages:
            if usage is None:
                continue
            prompt += usage.prompt_tokens
            completion += usage.completion_tokens
            total += usage.total_tokens
            if usage.estimated_cost_usd:
                cost += usage.estimated_cost_usd
            key = usage.model or "unknown"
            acc = by_model.get(key)
            if acc is None:
                by_model[key] = [
                    usage,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    usage.cached_input_tokens,
                    usage.reasoning_tokens,
                    usage.total_tokens,
                    usage.estimated_cost_usd,
                    usage.cache_write_input_tokens,
                ]
                continue
            acc[1] += usage.prompt_tokens
            acc[2] += usage.completion_tokens
            acc[3] += usage.cached_input_tokens
            acc[4] += usage.reasoning_tokens
            acc[5] += usage.total_tokens
            if usage.estimated_cost_usd is not None:
                acc[6] = (acc[6] or 0.0) + usage.estimated_cost_usd
            acc[7] += usage.cache_write_input_tokens
        return cls.model_construct(
            total_prompt_tokens=prompt,
            total_completion_tokens=completion,
            total_tokens=total,
            total_estimated_cost_usd=cost,
            usage_by_model={
                key: first.model_copy(
                    update={
                        "prompt_tokens": p,
                        "completion_tokens": c,
                        "cached_input_tokens": cached,
                        "reasoning_tokens": reasoning,
                        "total_tokens": t,
                        "estimated_cost_usd": usd,
                        "cache_write_input_tokens": written,
                    }
                )
                for key, (first, p, c, cached, reasoning, t, usd, written) in by_model.items()
            },
        )
