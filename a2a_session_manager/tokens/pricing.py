"""Prices per million tokens, by model: dated, overridable, never invented.

A model with no entry gets no cost (``None``) and one log line saying so;
``set_model_price`` adds or overrides an entry at run time.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache

logger = logging.getLogger(__name__)

PRICES_AS_OF = "2025-11-01"


@dataclass(frozen=True)
class ModelPrice:
    """US dollars per million tokens."""

    input: float
    output: float
    cached_input: float | None = None  # None: cached tokens cost the same as input


_PRICES: dict[str, ModelPrice] = {
    # OpenAI (platform.openai.com/pricing, standard tier)
    "gpt-5": ModelPrice(1.25, 10.00, 0.125),
    "gpt-5-mini": ModelPrice(0.25, 2.00, 0.025),
    "gpt-5-nano": ModelPrice(0.05, 0.40, 0.005),
    "gpt-4.1": ModelPrice(2.00, 8.00, 0.50),
    "gpt-4.1-mini": ModelPrice(0.40, 1.60, 0.10),
    "gpt-4.1-nano": ModelPrice(0.10, 0.40, 0.025),
    "gpt-4o": ModelPrice(2.50, 10.00, 1.25),
    "gpt-4o-mini": ModelPrice(0.15, 0.60, 0.075),
    "o1": ModelPrice(15.00, 60.00, 7.50),
    "o1-mini": ModelPrice(1.10, 4.40, 0.55),
    "o3": ModelPrice(2.00, 8.00, 0.50),
    "o3-mini": ModelPrice(1.10, 4.40, 0.55),
    "o4-mini": ModelPrice(1.10, 4.40, 0.275),
    "gpt-4-turbo": ModelPrice(10.00, 30.00),
    "gpt-4": ModelPrice(30.00, 60.00),
    "gpt-3.5-turbo": ModelPrice(0.50, 1.50),
    # Anthropic (anthropic.com/pricing; cached = cache read)
    "claude-opus-4-5": ModelPrice(5.00, 25.00, 0.50),
    "claude-opus-4-1": ModelPrice(15.00, 75.00, 1.50),
    "claude-opus-4": ModelPrice(15.00, 75.00, 1.50),
    "claude-sonnet-4-5": ModelPrice(3.00, 15.00, 0.30),
    "claude-sonnet-4": ModelPrice(3.00, 15.00, 0.30),
    "claude-haiku-4-5": ModelPrice(1.00, 5.00, 0.10),
    "claude-3-7-sonnet": ModelPrice(3.00, 15.00, 0.30),
    "claude-3-5-haiku": ModelPrice(0.80, 4.00, 0.08),
}
_lock = threading.Lock()
_warned: set[str] = set()


def set_model_price(
    model: str, *, input: float, output: float, cached_input: float | None = None
) -> None:
    """Add or override the price of ``model`` (and of its dated snapshots)."""
    with _lock:
        _PRICES[model] = ModelPrice(input, output, cached_input)
        price_for_model.cache_clear()


def known_models() -> dict[str, ModelPrice]:
    return dict(_PRICES)


@lru_cache(maxsize=1024)
def price_for_model(model: str) -> ModelPrice | None:
    """Exact entry, else the longest entry that prefixes the model name
    ("gpt-4o-2024-08-06" → "gpt-4o", "gpt-4o-mini-2024-07-18" → "gpt-4o-mini")."""
    name = model.split("/")[-1]
    if name in _PRICES:
        return _PRICES[name]
    best = max((key for key in _PRICES if name.startswith(key + "-")), key=len, default=None)
    return _PRICES[best] if best else None


def estimate_cost(
    model: str, *, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0
) -> float | None:
    """Cost in USD, or ``None`` when the model's price is unknown."""
    price = price_for_model(model)
    if price is None:
        if model not in _warned:
            _warned.add(model)
            logger.info(
                "no price known for model %r (table as of %s); cost left empty. "
                "Use a2a_session_manager.tokens.set_model_price() to add one.",
                model,
                PRICES_AS_OF,
            )
        return None
    cached = min(cached_input_tokens, input_tokens)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    return (
        (input_tokens - cached) * price.input + cached * cached_rate + output_tokens * price.output
    ) / 1_000_000
