"""tiktoken's own counting, in Python, for the counts that come before the
Rust encoding is built.

tiktoken splits text with the encoding's regex, then merges each piece's
bytes pair by pair, always the pair of lowest rank and, among equals, the
leftmost (``_byte_pair_merge`` in tiktoken's ``src/lib.rs``); the count is
the number of parts left. This does the same: the regex with the ``regex``
module (tiktoken's own dependency), the merges with a heap ordered by
(rank, position), which picks the same pair at every step.

Only text both engines split the same is counted here. The two engines'
Unicode tables differ for characters newer than both (``regex`` follows
Unicode 17 where tiktoken's Rust follows 16: U+0558 is a letter to one and
unassigned to the other), so a text must be ASCII or consist of characters
from long-stable blocks (Latin, Greek, Cyrillic, punctuation, symbols, CJK,
kana, Hangul, emoji), every one assigned since Unicode 14 or before and
checked against tiktoken in tests/test_first_count.py. Anything else, text
over ``MAX_CHARS`` and text that needs over ``MAX_LOOKUPS`` rank lookups
wait for the Rust encoding.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import regex  # type: ignore[import-untyped]

MAX_CHARS = 8_192
"""Longer texts wait for the Rust encoding."""

MAX_LOOKUPS = 4_000
"""A count that would need more rank lookups (about 5 µs each over the cached
table: 20 ms) gives up and waits for the Rust encoding: it never starts a
piece whose merges could pass the limit. A piece that is a token costs one
lookup; merging a piece of n bytes at most 3n. Prose and code of 8,192
characters take 2,500-3,500; CJK or emoji runs about 2 per byte."""

# Blocks with no unassigned code point since Unicode 14 (a code point assigned
# later would be classified differently by the two engines' tables).
_STABLE = (
    "\x00-\u024f\u0250-\u036f"  # ASCII, Latin-1, Latin Extended-A/B, IPA, modifiers, combining
    "\u0370-\u0377\u037a-\u037f\u0384-\u038a\u038c\u038e-\u03a1\u03a3-\u03ff"  # Greek
    "\u0400-\u052f"  # Cyrillic
    "\u2000-\u2064\u2066-\u206f"  # general punctuation
    "\u20a0-\u20c0\u2100-\u218b\u2190-\u23ff\u2500-\u27bf"  # currency, letterlike, arrows, symbols
    "\u3000-\u303f\u3041-\u3096\u3099-\u30ff"  # CJK punctuation, hiragana, katakana
    "\u4e00-\u9fff\uac00-\ud7a3"  # CJK unified ideographs, Hangul syllables
    "\ufe00-\ufe0f\uff01-\uff60"  # variation selectors, fullwidth forms
    "\U0001f300-\U0001f64f\U0001f680-\U0001f6c5\U0001f900-\U0001f9ff"  # emoji
)
_UNSTABLE = regex.compile(f"[^{_STABLE}]")


def countable(text: str) -> bool:
    """Whether this module counts ``text`` exactly as tiktoken does."""
    return len(text) <= MAX_CHARS and (text.isascii() or _UNSTABLE.search(text) is None)


def _parts_after_merges(piece: bytes, rank: Callable[[bytes], int | None]) -> tuple[int, int]:
    """Parts left after tiktoken's merges, and the rank lookups it took (at
    most 3 per byte: one per initial pair, two per merge)."""
    # Parts are named by where they start; following[s] is where the part
    # after s starts, pair_rank[s] the rank of s merged with that next part.
    size = len(piece)
    following = list(range(1, size + 2))
    preceding = list(range(-1, size))
    pair_rank: list[int | None] = [rank(piece[s : s + 2]) for s in range(size - 1)]
    pair_rank.append(None)
    heap = [(r, s) for s, r in enumerate(pair_rank) if r is not None]
    heapq.heapify(heap)
    parts = size
    lookups = size - 1
    while heap:
        r, start = heapq.heappop(heap)
        if pair_rank[start] != r:
            continue  # merged away or re-ranked since it was pushed
        absorbed = following[start]
        pair_rank[absorbed] = None
        after = following[absorbed]
        following[start] = after
        if after <= size:
            preceding[after] = start
        parts -= 1
        new = None
        if after < size:
            new = rank(piece[start : following[after]])
            lookups += 1
        pair_rank[start] = new
        if new is not None:
            heapq.heappush(heap, (new, start))
        before = preceding[start]
        if before >= 0:
            new = rank(piece[before:after])
            lookups += 1
            pair_rank[before] = new
            if new is not None:
                heapq.heappush(heap, (new, before))
    return parts, lookups


class PythonCounter:
    """Counts like ``len(encoding.encode(text, disallowed_special=()))``, for
    text that passes ``countable``."""

    def __init__(self, pattern: str, rank: Callable[[bytes], int | None]) -> None:
        self._split = regex.compile(pattern).findall
        self._rank = rank

    def count(self, text: str) -> int | None:
        """The count, or ``None`` when it would take more than ``MAX_LOOKUPS``."""
        rank = self._rank
        total = lookups = 0
        for piece in self._split(text):
            encoded = piece.encode("utf-8")
            lookups += 1
            if rank(encoded) is not None:
                total += 1
                continue
            if lookups + 3 * len(encoded) > MAX_LOOKUPS:  # its most, before doing it
                return None
            parts, spent = _parts_after_merges(encoded, rank)
            total += parts
            lookups += spent
        return total
