"""Exact, offline token counting and the price table."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import tiktoken_ext.openai_public as openai_public

from a2a_session_manager.models import TokenUsage
from a2a_session_manager.tokens import (
    PRICES_AS_OF,
    EncodingUnavailableError,
    ModelPrice,
    count_chat_tokens,
    count_message_tokens,
    count_tokens,
    encoding_for_model,
    encoding_name_for_model,
    encodings,
    estimate_cost,
    get_encoding,
    known_models,
    price_for_model,
    pricing,
    set_model_price,
)

# Facts of the encodings (token ids as tiktoken gives them).
KNOWN_IDS = {
    ("o200k_base", "hello world"): [24912, 2375],
    ("cl100k_base", "hello world"): [15339, 1917],
    ("o200k_base", "Hello, world!"): [13225, 11, 2375, 0],
    ("cl100k_base", "Hello, world!"): [9906, 11, 1917, 0],
    ("o200k_base", "日本語のテキスト"): [9048, 40909, 3385, 16056, 18368, 38236],
    ("cl100k_base", "日本語のテキスト"): [9080, 22656, 45918, 252, 16144, 57933, 62903, 71634],
    ("o200k_base", "🌍🚀"): [64364, 235, 112927, 222],
    ("cl100k_base", "🌍🚀"): [9468, 234, 235, 9468, 248, 222],
}
KNOWN_COUNTS = {
    ("o200k_base", "The quick brown fox jumps over the lazy dog."): 10,
    ("cl100k_base", "The quick brown fox jumps over the lazy dog."): 10,
    # Special-token text in user content is counted as plain text, never as one token.
    ("o200k_base", "<|endoftext|>"): 7,
    ("cl100k_base", "<|endoftext|>"): 7,
    ("o200k_base", "  leading spaces\n\ttabs"): 6,
}

# OpenAI cookbook "How to count tokens with tiktoken": the API bills 129
# prompt tokens for these messages on gpt-3.5-turbo/gpt-4 and 124 on gpt-4o.
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]


@pytest.mark.parametrize(("encoding", "text"), sorted(KNOWN_IDS))
def test_known_token_ids(encoding: str, text: str) -> None:
    assert get_encoding(encoding).encode(text) == KNOWN_IDS[(encoding, text)]
    assert get_encoding(encoding).decode(KNOWN_IDS[(encoding, text)]) == text


@pytest.mark.parametrize(("encoding", "text"), sorted(KNOWN_COUNTS))
def test_known_token_counts(encoding: str, text: str) -> None:
    model = "gpt-4o" if encoding == "o200k_base" else "gpt-4"
    assert count_tokens(text, model) == KNOWN_COUNTS[(encoding, text)]


def test_hello_world_is_two_tokens_for_every_model() -> None:
    for model in ("gpt-4o-mini", "gpt-4o", "gpt-5", "o3", "gpt-4", "gpt-3.5-turbo"):
        assert count_tokens("hello world", model) == 2
    assert count_tokens("", "gpt-4o") == 0
    assert TokenUsage.count_tokens(None) == 0


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),  # Azure's spelling
        ("text-embedding-3-small", "cl100k_base"),
        ("some-future-model", "o200k_base"),
    ],
)
def test_model_to_encoding(model: str, encoding: str) -> None:
    assert encoding_name_for_model(model) == encoding
    assert encoding_for_model(model).name == encoding


# -- the bundled files --------------------------------------------------------------


def _tiktoken_expected_hashes() -> dict[str, str]:
    """The sha256 tiktoken's own constructors ask for, captured without loading."""
    captured: dict[str, str] = {}

    class Captured(Exception):
        pass

    def capture(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        assert expected_hash is not None
        captured[url.rsplit("/", 1)[-1]] = expected_hash
        raise Captured

    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = capture
    try:
        for name in encodings.BUNDLED_FILES:
            with pytest.raises(Captured):
                getattr(openai_public, name)()
    finally:
        openai_public.load_tiktoken_bpe = original
    return captured


def test_bundled_files_match_tiktokens_expected_sha256() -> None:
    expected = _tiktoken_expected_hashes()
    data = resources.files("a2a_session_manager.tokens").joinpath("data")
    for name, file_name in encodings.BUNDLED_FILES.items():
        raw = gzip.decompress(data.joinpath(file_name).read_bytes())
        assert hashlib.sha256(raw).hexdigest() == expected[f"{name}.tiktoken"]


def test_loader_rejects_a_wrong_hash() -> None:
    with pytest.raises(EncodingUnavailableError, match="sha256"):
        encodings._bundled_ranks("cl100k_base.tiktoken.gz", "0" * 64)


def test_a_corrupted_bundled_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = resources.files("a2a_session_manager.tokens").joinpath("data")
    raw = bytearray(gzip.decompress(data.joinpath("cl100k_base.tiktoken.gz").read_bytes()))
    raw[1000] ^= 0x01  # one flipped bit
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cl100k_base.tiktoken.gz").write_bytes(gzip.compress(bytes(raw)))
    monkeypatch.setattr(encodings.resources, "files", lambda package: tmp_path)
    monkeypatch.setenv("A2A_SESSIONS_TOKENS_CACHE", "")  # read the bundled file itself
    with pytest.raises(EncodingUnavailableError, match="tiktoken expects"):
        encodings._build_offline("cl100k_base")


def test_unbundled_file_is_not_served_offline() -> None:
    with pytest.raises(EncodingUnavailableError, match="not bundled"):
        encodings.definition("r50k_base")


def test_bundled_encodings_are_tiktokens_own_definitions() -> None:
    o200k = get_encoding("o200k_base")
    assert o200k.n_vocab == 200019
    assert o200k.eot_token == 199999
    cl100k = get_encoding("cl100k_base")
    assert cl100k.n_vocab == 100277
    assert cl100k.eot_token == 100257


OFFLINE_SCRIPT = """
import json, socket

def refuse(*args, **kwargs):
    raise OSError("network used while counting tokens")

socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

from a2a_session_manager.tokens import count_chat_tokens, count_tokens
print(json.dumps({
    "o200k": count_tokens("hello world", "gpt-4o"),
    "cl100k": count_tokens("hello world", "gpt-4"),
    "chat": count_chat_tokens([{"role": "user", "content": "hello world"}], "gpt-4o-mini"),
}))
"""


def test_counting_works_offline_and_never_downloads(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    env.update(
        TIKTOKEN_CACHE_DIR=str(cache),
        DATA_GYM_CACHE_DIR=str(cache),
        HTTPS_PROXY="http://127.0.0.1:9",  # a dead port: any download would fail
        HTTP_PROXY="http://127.0.0.1:9",
    )
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"o200k": 2, "cl100k": 2, "chat": 9}
    assert list(cache.iterdir()) == []


# -- chat counting ------------------------------------------------------------------


def test_chat_counting_follows_openais_rules() -> None:
    assert count_chat_tokens([]) == 3  # the reply priming alone
    one = [{"role": "user", "content": "hello world"}]
    assert count_chat_tokens(one) == 3 + (3 + 1 + 2)  # per message + role + content
    assert count_message_tokens(one[0]) == 6
    named = [{"role": "user", "name": "bob", "content": "hello world"}]
    assert count_chat_tokens(named) == count_chat_tokens(one) + 1 + count_tokens("bob")
    assert count_chat_tokens(one * 5) == 3 + 5 * 6


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-3.5-turbo", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)],
)
def test_chat_counting_matches_the_cookbook_api_numbers(model: str, expected: int) -> None:
    assert count_chat_tokens(COOKBOOK_MESSAGES, model) == expected


def test_chat_counting_of_parts_tool_calls_and_tool_results() -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello world"}]}]
    assert count_chat_tokens(parts) == count_chat_tokens(
        [{"role": "user", "content": "hello world"}]
    )
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
        ],
    }
    expected = 3 + 3 + count_tokens("assistant") + count_tokens("f") + count_tokens('{"a": 1}')
    assert count_chat_tokens([call]) == expected
    result = {"role": "tool", "tool_call_id": "c", "content": "ok"}
    assert count_message_tokens(result) == 3 + count_tokens("tool") + count_tokens("ok") + 1


# -- prices --------------------------------------------------------------------------


@pytest.fixture
def price_table() -> Iterator[None]:
    yield
    pricing.clear_model_prices()


def _theirs(model: str, provider: str | None = None, **usage: int) -> float:
    """genai-prices' own price of a call, the reference ours must equal."""
    from genai_prices import Usage, calc_price

    return float(calc_price(Usage(**usage), model, provider_id=provider).total_price)


# (model, provider or None): several providers, plain and tiered prices.
PRICED = [
    ("gpt-4o-mini", "openai"),
    ("gpt-4o-2024-08-06", None),
    ("o3", "openai"),
    ("claude-sonnet-4-5", "anthropic"),
    ("claude-3-5-haiku-20241022", None),
    ("gemini-2.5-pro", "google"),
    ("mistral-large-latest", "mistral"),
    ("deepseek-chat", "deepseek"),
    ("grok-3", "x-ai"),
]


@pytest.mark.parametrize(("model", "provider"), PRICED)
@pytest.mark.parametrize(
    ("prompt", "completion", "read", "write"),
    [(1_000, 100, 0, 0), (1_000, 100, 200, 100), (300_000, 5_000, 250_000, 10_000)],
)
def test_prices_equal_genai_prices(
    model: str, provider: str | None, prompt: int, completion: int, read: int, write: int
) -> None:
    ours = estimate_cost(
        model,
        input_tokens=prompt,
        output_tokens=completion,
        cached_input_tokens=read,
        cache_write_input_tokens=write,
        provider=provider,
    )
    theirs = _theirs(
        model,
        provider,
        input_tokens=prompt,
        output_tokens=completion,
        cache_read_tokens=read,
        cache_write_tokens=write,
    )
    assert ours == pytest.approx(theirs, rel=1e-12) and theirs > 0


def test_conventions_provider_names_pick_the_provider() -> None:
    # gen_ai.provider.name values, not genai-prices' ids
    theirs = _theirs("mistral-large-latest", "mistral", input_tokens=10, output_tokens=10)
    assert estimate_cost(
        "mistral-large-latest", input_tokens=10, output_tokens=10, provider="mistral_ai"
    ) == pytest.approx(theirs)
    # a provider genai-prices does not know falls back to the model alone
    assert estimate_cost("gpt-4o-mini", input_tokens=10, output_tokens=0, provider="acme") == (
        pytest.approx(10 * 0.15 / 1_000_000)
    )


def test_known_model_is_priced() -> None:
    assert price_for_model("gpt-4o-mini") == ModelPrice(0.15, 0.60, 0.075)
    assert estimate_cost("gpt-4o-mini", input_tokens=1_000_000, output_tokens=1_000_000) == (
        pytest.approx(0.75)
    )
    assert "gpt-4o" in known_models() and PRICES_AS_OF.startswith("genai-prices ")


def test_dated_snapshots_and_routed_names_map_to_their_base() -> None:
    assert price_for_model("gpt-4o-mini-2024-07-18") == price_for_model("gpt-4o-mini")
    assert price_for_model("gpt-4o-2024-08-06") == price_for_model("gpt-4o")
    assert price_for_model("openai/gpt-4o-mini") == price_for_model("gpt-4o-mini")
    assert price_for_model("gpt-4o-mini") != price_for_model("gpt-4o")


def test_prices_are_dated_by_the_call() -> None:
    from datetime import UTC, date, datetime

    # genai-prices keeps price changes with their start dates: a call is priced
    # as of when it was made. Which models changed price is genai-prices' data;
    # look one up rather than hard-code it.
    from genai_prices import data_snapshot

    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            if isinstance(model.prices, list) and len(model.prices) > 1:
                dated = [c for c in model.prices if c.constraint is not None]
                start = getattr(dated[-1].constraint, "start_date", None) if dated else None
                if isinstance(start, date):
                    before = datetime(start.year - 1, 1, 1, tzinfo=UTC)
                    after = datetime(start.year + 1, 1, 1, tzinfo=UTC)
                    args = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
                    then = estimate_cost(model.id, provider=provider.id, at=before, **args)
                    now = estimate_cost(model.id, provider=provider.id, at=after, **args)
                    if then != now:
                        return
    pytest.fail("no dated price change found in genai-prices' data")


def test_cached_input_tokens_are_priced_at_the_cached_rate() -> None:
    cost = estimate_cost(
        "gpt-4o-mini", input_tokens=1_000_000, output_tokens=0, cached_input_tokens=400_000
    )
    assert cost == pytest.approx((600_000 * 0.15 + 400_000 * 0.075) / 1_000_000)
    # A model without a cached rate bills cached tokens as input; more cached than input is capped.
    assert estimate_cost("gpt-4", input_tokens=10, output_tokens=0, cached_input_tokens=50) == (
        pytest.approx(10 * 30.0 / 1_000_000)
    )


def test_cache_writes_are_priced_at_the_cache_write_rate() -> None:
    price = price_for_model("claude-3-5-haiku-20241022")
    assert price is not None and price.cache_write is not None
    assert price.cache_write > price.input
    cost = estimate_cost(
        "claude-3-5-haiku-20241022",
        input_tokens=1_000_000,
        output_tokens=0,
        cache_write_input_tokens=400_000,
    )
    assert cost == pytest.approx((600_000 * price.input + 400_000 * price.cache_write) / 1e6)


def test_unknown_model_has_no_cost_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="a2a_session_manager.tokens.pricing")
    model = "acme-unpriced-model-7"
    assert price_for_model(model) is None
    assert estimate_cost(model, input_tokens=100, output_tokens=100) is None
    assert estimate_cost(model, input_tokens=1, output_tokens=1) is None
    lines = [r for r in caplog.records if model in r.getMessage()]
    assert len(lines) == 1 and "set_model_price" in lines[0].getMessage()
    usage = TokenUsage(prompt_tokens=100, completion_tokens=10, model=model)
    assert usage.estimated_cost_usd is None and usage.total_tokens == 110
    # a name genai-prices only half matches is not priced either
    assert estimate_cost("gpt-4o-mini-acme", input_tokens=1, output_tokens=1) is None


@pytest.mark.usefixtures("price_table")
def test_set_model_price_adds_and_overrides() -> None:
    set_model_price("acme-model", input=1.0, output=2.0)
    assert estimate_cost("acme-model", input_tokens=1_000_000, output_tokens=500_000) == 2.0
    assert price_for_model("acme-model-2025-01-01") == ModelPrice(1.0, 2.0)
    before = TokenUsage(prompt_tokens=1_000_000, model="gpt-4o-mini").estimated_cost_usd
    set_model_price("gpt-4o-mini", input=10.0, output=20.0, cached_input=5.0, cache_write=12.0)
    after = TokenUsage(prompt_tokens=1_000_000, model="gpt-4o-mini").estimated_cost_usd
    assert (before, after) == (pytest.approx(0.15), pytest.approx(10.0))
    assert price_for_model("gpt-4o-mini-2024-07-18") == ModelPrice(10.0, 20.0, 5.0, 12.0)
    assert estimate_cost(
        "gpt-4o-mini", input_tokens=100, output_tokens=0, cache_write_input_tokens=100
    ) == pytest.approx(100 * 12.0 / 1e6)


def test_price_table_restored_after_override() -> None:
    # Runs after the override test in file order: the fixture dropped the overrides.
    assert price_for_model("gpt-4o-mini") == ModelPrice(0.15, 0.60, 0.075)
    assert price_for_model("acme-model") is None
