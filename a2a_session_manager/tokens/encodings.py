"""Offline, hash-checked tiktoken encodings.

tiktoken downloads its BPE files on first use; our users' CI often has no
network. We ship the two official files (o200k_base, cl100k_base; 2.4 MB
gzipped in ``data/``) and build the encodings with tiktoken's own
constructors, so the regex and special tokens are exactly tiktoken's, and
each file is checked against the sha256 tiktoken itself expects.

Building an encoding takes about 0.3 s (parsing 200,000 ranks, then
tiktoken's own constructor, which holds the GIL). ``count_tokens`` never
waits for that when the text allows: its first counts are counted by
tiktoken's algorithm in Python over ranks cached on disk while the encoding
is built in a background thread (``_first_counts``). ``configure`` starts
that for o200k_base (today's models) through ``tokens.warm_up``; cl100k_base
starts on first use. A count that needs the built encoding while it is being
built waits for that build, never starts a second one.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

import tiktoken
import tiktoken_ext.openai_public as openai_public  # type: ignore[import-untyped]
from tiktoken.model import MODEL_PREFIX_TO_ENCODING, MODEL_TO_ENCODING

from a2a_session_manager.tokens import _rank_table

logger = logging.getLogger(__name__)

BUNDLED_FILES = {"o200k_base": "o200k_base.tiktoken.gz", "cl100k_base": "cl100k_base.tiktoken.gz"}
DEFAULT_ENCODING = "o200k_base"

_load_lock = threading.Lock()
_built: dict[str, tiktoken.Encoding] = {}
_building: dict[str, threading.Lock] = {}
_building_guard = threading.Lock()


def _reset_after_fork() -> None:
    # A child forked while a build was in flight must not wait on its lock forever.
    global _load_lock, _building_guard
    _load_lock = threading.Lock()
    _building_guard = threading.Lock()
    _building.clear()


os.register_at_fork(after_in_child=_reset_after_fork)


class EncodingUnavailableError(RuntimeError):
    """An encoding that is neither bundled nor loadable by tiktoken here."""


def _bundled_ranks(file_name: str, expected_hash: str | None) -> dict[bytes, int]:
    raw = gzip.decompress(resources.files(__package__).joinpath("data", file_name).read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if expected_hash is not None and digest != expected_hash:
        raise EncodingUnavailableError(
            f"bundled {file_name} has sha256 {digest}, tiktoken expects {expected_hash}"
        )
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def definition(name: str) -> tuple[dict[str, Any], str, str | None]:
    """tiktoken's constructor arguments for ``name`` without its ranks, and the
    bundled file and sha256 the ranks come from."""
    if name not in BUNDLED_FILES:
        raise EncodingUnavailableError(f"{name} is not bundled with a2a-session-manager")
    constructor: Callable[[], dict[str, Any]] = getattr(openai_public, name)
    wanted: list[tuple[str, str | None]] = []

    def capture(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        wanted.append((url, expected_hash))
        return {}

    # tiktoken's constructors call the module-level ``load_tiktoken_bpe``;
    # pointing it at ours keeps tiktoken's own definitions.
    with _load_lock:
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = capture
        try:
            params = constructor()
        finally:
            openai_public.load_tiktoken_bpe = original
    [(url, expected_hash)] = wanted
    file_name = url.rsplit("/", 1)[-1] + ".gz"
    if file_name != BUNDLED_FILES[name]:
        raise EncodingUnavailableError(f"{url} is not bundled with a2a-session-manager")
    del params["mergeable_ranks"]
    return params, file_name, expected_hash


def bundled_ranks(name: str) -> dict[bytes, int]:
    """The ranks of a bundled encoding, parsed from its file (about 170 ms)."""
    _, file_name, expected_hash = definition(name)
    return _bundled_ranks(file_name, expected_hash)


def _build_offline(name: str) -> tiktoken.Encoding:
    params, file_name, expected_hash = definition(name)
    ranks = _rank_table.load_ranks(name, expected_hash or "")
    if ranks is None:
        ranks = _bundled_ranks(file_name, expected_hash)
    return tiktoken.Encoding(mergeable_ranks=ranks, **params)


def built(name: str) -> tiktoken.Encoding | None:
    """The encoding if this process has built it already (never waits)."""
    return _built.get(name)


def get_encoding(name: str) -> tiktoken.Encoding:
    """The named encoding, from the bundled files when possible (no network).
    Built once per process; concurrent first calls share one build."""
    encoding = _built.get(name)
    if encoding is not None:
        return encoding
    with _building_guard:
        lock = _building.setdefault(name, threading.Lock())
    with lock:
        encoding = _built.get(name)
        if encoding is None:
            encoding = _built[name] = _build(name)
    return encoding


def _build(name: str) -> tiktoken.Encoding:
    try:
        return _build_offline(name)
    except (EncodingUnavailableError, AttributeError) as exc:
        logger.debug("encoding %s not available offline (%s); asking tiktoken", name, exc)
    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:  # tiktoken raises several types when offline
        raise EncodingUnavailableError(
            f"encoding {name!r} is not bundled and tiktoken could not load it: {exc}"
        ) from exc


@lru_cache(maxsize=1024)
def encoding_name_for_model(model: str) -> str:
    """tiktoken's model map, then its prefixes; unknown models get o200k_base."""
    if model in MODEL_TO_ENCODING:
        return MODEL_TO_ENCODING[model]
    for prefix, name in MODEL_PREFIX_TO_ENCODING.items():
        if model.startswith(prefix):
            return name
    bare = model.split("/")[-1]  # "openai/gpt-4o" as routers name it
    if bare != model:
        return encoding_name_for_model(bare)
    for prefix in ("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4"):
        if bare.startswith(prefix):
            return "o200k_base"
    for prefix in ("gpt-4", "gpt-3.5", "gpt-35", "text-embedding"):
        if bare.startswith(prefix):
            return "cl100k_base"
    return DEFAULT_ENCODING


@lru_cache(maxsize=1024)
def encoding_for_model(model: str) -> tiktoken.Encoding:
    return get_encoding(encoding_name_for_model(model))
