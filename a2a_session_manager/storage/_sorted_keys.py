"""An ordered set of comparable keys, split in blocks so that inserting or
removing one key among millions moves at most one block (``bisect`` on one
plain list would move half the list each time)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import Any

_BLOCK = 512


class SortedKeys:
    """Keys in ascending order; ``add``/``discard`` cost O(log N + block)."""

    def __init__(self) -> None:
        self._blocks: list[list[Any]] = []
        self._maxes: list[Any] = []  # the last key of each block
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def add(self, key: Any) -> None:
        if not self._blocks:
            self._blocks.append([key])
            self._maxes.append(key)
            self._len = 1
            return
        at = bisect_left(self._maxes, key)
        if at == len(self._blocks):
            at -= 1
        block = self._blocks[at]
        where = bisect_left(block, key)
        if where < len(block) and block[where] == key:
            return
        insort(block, key)
        self._maxes[at] = block[-1]
        self._len += 1
        if len(block) > 2 * _BLOCK:
            self._blocks[at : at + 1] = [block[:_BLOCK], block[_BLOCK:]]
            self._maxes[at : at + 1] = [block[_BLOCK - 1], block[-1]]

    def discard(self, key: Any) -> None:
        at = bisect_left(self._maxes, key)
        if at == len(self._blocks):
            return
        block = self._blocks[at]
        where = bisect_left(block, key)
        if where == len(block) or block[where] != key:
            return
        del block[where]
        self._len -= 1
        if block:
            self._maxes[at] = block[-1]
        else:
            del self._blocks[at]
            del self._maxes[at]

    def iter_from(self, key: Any = None, *, exclusive: bool = False) -> Iterator[Any]:
        """Keys >= ``key`` (> with ``exclusive``), ascending; all with ``None``."""
        if key is None:
            at, where = 0, 0
        else:
            at = bisect_left(self._maxes, key) if not exclusive else bisect_right(self._maxes, key)
            if at == len(self._blocks):
                return
            block = self._blocks[at]
            where = bisect_right(block, key) if exclusive else bisect_left(block, key)
        for index in range(at, len(self._blocks)):
            block = self._blocks[index]
            yield from block[where:] if where else block
            where = 0

    def iter_down_from(self, key: Any = None, *, exclusive: bool = False) -> Iterator[Any]:
        """Keys <= ``key`` (< with ``exclusive``), descending; all with ``None``."""
        if not self._blocks:
            return
        if key is None:
            at, end = len(self._blocks) - 1, len(self._blocks[-1])
        else:
            at = bisect_left(self._maxes, key)
            if at == len(self._blocks):
                at, end = at - 1, len(self._blocks[-1])
            else:
                block = self._blocks[at]
                end = bisect_left(block, key) if exclusive else bisect_right(block, key)
        for index in range(at, -1, -1):
            block = self._blocks[index]
            stop = end if index == at else len(block)
            for position in range(stop - 1, -1, -1):
                yield block[position]
