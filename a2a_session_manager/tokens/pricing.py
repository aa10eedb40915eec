"""Prices of LLM calls: from genai-prices, dated, overridable, never invented.

Prices come from `genai-prices <https://github.com/pydantic/genai-prices>`_
(MIT, the price source Logfire uses): its data ships inside the package, so
pricing works offline and never fetches anything (we never start its
updater). A call is priced as of when it was made (``at``), since providers
change prices over time; dated model names ("gpt-4o-2024-08-06") resolve to
their model as genai-prices matches them.

``set_model_price`` adds or overrides a price at run time; an override also
covers the model's dated snapshots ("acme-model-2025-01-01"). A model neither
genai-prices nor an override knows gets no cost (``None``) and one log line
saying so.

Token counts follow the GenAI conventions: ``input_tokens`` includes the
cache-read and cache-write tokens, which are billed at their own rates when
the model has them and at the input rate otherwise.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, Provider

logger = logging.getLogger(__name__)


def _source_version() -> str:
    try:
        return version("genai-prices")
    except PackageNotFoundError:  # pragma: no cover - a core dependency
        return "missing"


# What the prices are as of: the genai-prices release whose data we read.
PRICES_AS_OF = f"genai-prices {_source_version()}"

# GenAI conventions' provider names (gen_ai.provider.name) genai-prices names otherwise.
_PROVIDER_IDS = {
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "aws.bedrock": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    "moonshot_ai": "moonshotai",
}

# Price keys the fast path understands; any other (per-modality, per-request
# prices) goes through genai-prices' own calculation.
_TOKEN_KEYS = frozenset({"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok"})
# Billed for tool use or 1-hour cache writes, which a recorded call never reports.
_NOT_BILLED = frozenset({"web_searches_kcount", "storage_searches_kcount", "cache_write_1h_mtok"})


@dataclass(frozen=True)
class ModelPrice:
    """US dollars per million tokens."""

    input: float
    output: float
    cached_input: float | None = None  # cache read; None: billed as input
    cache_write: float | None = None  # None: billed as input


_overrides: dict[str, ModelPrice] = {}
_lock = threading.Lock()
_warned: set[str] = set()


def set_model_price(
    model: str,
    *,
    input: float,
    output: float,
    cached_input: float | None = None,
    cache_write: float | None = None,
) -> None:
    """Add or override the price of ``model`` (and of its dated snapshots)."""
    with _lock:
        _overrides[model] = ModelPrice(input, output, cached_input, cache_write)
        _override_for.cache_clear()


def clear_model_prices() -> None:
    """Drop every ``set_model_price`` override."""
    with _lock:
        _overrides.clear()
        _override_for.cache_clear()


def known_models() -> dict[str, ModelPrice]:
    """Every model genai-prices prices today (by its id), then the overrides."""
    found: dict[str, ModelPrice] = {}
    now = datetime.now(tz=UTC)
    for provider in _snapshot().providers:
        for model in provider.models:
            if model.id not in found:
                price = _simple_price(model.get_prices(now))
                if price is not None:
                    found[model.id] = price
    found.update(_overrides)
    return found


@lru_cache(maxsize=1024)
def _override_for(name: str) -> ModelPrice | None:
    """Exact entry, else the longest entry that prefixes the name followed by
    "-" ("acme-model-2025-01-01" → "acme-model")."""
    if name in _overrides:
        return _overrides[name]
    best = max((key for key in _overrides if name.startswith(key + "-")), key=len, default=None)
    return _overrides[best] if best else None


def _snapshot() -> Any:
    # Imported on first use (about a second): ``configure`` warms it in the background.
    from genai_prices import data_snapshot

    return data_snapshot.get_snapshot()


def warm_up() -> None:
    """Load the price data now (``configure`` calls it off the caller's thread)."""
    _lookup("gpt-4o-mini", "openai")


@lru_cache(maxsize=2048)
def _lookup(model: str, provider: str | None) -> tuple[Provider, ModelInfo] | None:
    """genai-prices' provider and model for ``model``; routed names
    ("openai/gpt-4o") are tried bare, and an unknown provider by model alone."""
    snapshot = _snapshot()
    provider_id = _PROVIDER_IDS.get(provider, provider) if provider else None
    candidates = [(model, provider_id)]
    if "/" in model:
        prefix, bare = model.split("/", 1)
        candidates += [(bare, provider_id), (bare, _PROVIDER_IDS.get(prefix, prefix))]
    if provider_id is not None:
        candidates += [(name, None) for name, _ in candidates]
    for name, pid in candidates:
        try:
            found: tuple[Provider, ModelInfo] = snapshot.find_provider_model(name, None, pid, None)
        except LookupError:
            continue
        return found
    return None


def _rate(value: Any, input_tokens: int) -> float | None:
    """A rate in USD per million tokens; a tiered rate applies to all tokens once
    the call's input tokens pass the tier's start (genai-prices' rule)."""
    if isinstance(value, Decimal):
        return float(value)
    tiers = getattr(value, "tiers", None)
    if tiers is None:
        return None
    rate = value.base
    for tier in reversed(tiers):
        if input_tokens > tier.start:
            rate = tier.price
            break
    return float(rate)


# genai-prices' price objects (its snapshot keeps each, unchanged) whose
# answer does not depend on the call's input tokens: by id, with the object
# (so a reused id is never mistaken for it). Reading one costs ~3 us a call.
_untiered: dict[int, tuple[Any, ModelPrice | None]] = {}
_UNTIERED_LIMIT = 4096


def _simple_price(prices: Any, input_tokens: int = 0) -> ModelPrice | None:
    """Our ``ModelPrice`` for a call with ``input_tokens`` when genai-prices'
    price is per-token rates (tiered or not) and nothing else a call is billed
    for, else ``None``."""
    known = _untiered.get(id(prices))
    if known is not None and known[0] is prices:
        return known[1]
    rates = {k: v for k, v in vars(prices).items() if v is not None and not k.startswith("_")}
    if not rates.keys() <= _TOKEN_KEYS | _NOT_BILLED or "output_mtok" not in rates:
        _remember(prices, None)
        return None
    input_rate = _rate(rates.get("input_mtok", Decimal(0)), input_tokens)
    output_rate = _rate(rates["output_mtok"], input_tokens)
    if input_rate is None or output_rate is None:
        return None
    read, write = rates.get("cache_read_mtok"), rates.get("cache_write_mtok")
    price = ModelPrice(
        input=input_rate,
        output=output_rate,
        cached_input=None if read is None else _rate(read, input_tokens),
        cache_write=None if write is None else _rate(write, input_tokens),
    )
    if all(isinstance(v, Decimal) for k, v in rates.items() if k in _TOKEN_KEYS):
        _remember(prices, price)
    return price


def _remember(prices: Any, price: ModelPrice | None) -> None:
    if len(_untiered) >= _UNTIERED_LIMIT:
        _untiered.clear()
    _untiered[id(prices)] = (prices, price)


def price_for_model(
    model: str, *, provider: str | None = None, at: datetime | None = None
) -> ModelPrice | None:
    """The price of ``model`` (as of ``at``, default now): an override, else
    genai-prices' per-token rates (below any tier); ``None`` when unknown or
    priced by more than tokens."""
    override = _override_for(model.split("/")[-1])
    if override is not None:
        return override
    found = _lookup(model, provider)
    if found is None:
        return None
    return _simple_price(found[1].get_prices(at or datetime.now(tz=UTC)))


def _apply(
    price: ModelPrice, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
) -> float:
    cache_read = min(cache_read, input_tokens)
    cache_write = min(cache_write, input_tokens - cache_read)
    read_rate = price.input if price.cached_input is None else price.cached_input
    write_rate = price.input if price.cache_write is None else price.cache_write
    return (
        (input_tokens - cache_read - cache_write) * price.input
        + cache_read * read_rate
        + cache_write * write_rate
        + output_tokens * price.output
    ) / 1_000_000


def _unknown(model: str) -> None:
    if model not in _warned:
        _warned.add(model)
        logger.info(
            "no price known for model %r (%s); cost left empty. "
            "Use a2a_session_manager.tokens.set_model_price() to add one.",
            model,
            PRICES_AS_OF,
        )


def estimate_cost(
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    cache_write_input_tokens: int = 0,
    provider: str | None = None,
    at: datetime | None = None,
) -> float | None:
    """Cost in USD of one call made ``at`` (default now), or ``None`` when the
    model's price is unknown. ``input_tokens`` includes the cached ones."""
    override = _override_for(model.split("/")[-1])
    if override is not None:
        return _apply(
            override, input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens
        )
    found = _lookup(model, provider) if model else None
    if found is None:
        _unknown(model)
        return None
    prices = found[1].get_prices(at or datetime.now(tz=UTC))
    simple = _simple_price(prices, input_tokens)
    if simple is not None:
        # genai-prices' own calculation costs ~0.3 ms a call; per-token rates need none of it.
        return _apply(
            simple, input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens
        )
    from genai_prices import Usage

    cache_read = min(cached_input_tokens, input_tokens)
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=min(cache_write_input_tokens, input_tokens - cache_read),
    )
    try:
        return float(prices.calc_price(usage)["total_price"])
    except (ValueError, LookupError, ArithmeticError):
        logger.info("genai-prices could not price %r; cost left empty", model, exc_info=True)
        return None
