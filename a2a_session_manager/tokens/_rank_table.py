"""An encoding's ranks on disk, in a form that loads in a few milliseconds.

Parsing tiktoken's gzipped base64 file takes about 170 ms and holding its
200,000 ranks as a dict takes another 40-60 ms of hashing; a first count
needs neither. This file, written once per machine into the user cache
directory, gives both a table to look ranks up in at once (binary search
over the sorted tokens, usable as soon as the file is read) and the dict
tiktoken's ``CoreBPE`` needs, built from it in small steps.

File format, all integers unsigned 32-bit little-endian::

    b"a2atok2\\n"                    magic and format version
    crc32 of the rest                1 integer: a damaged file is ignored
    n, blob_size, segments           3 integers
    body:
      offsets    (n + 1) integers    where each sorted token starts in blob
      ranks      n integers          the rank of each sorted token
      blob       blob_size bytes     the tokens, sorted, end to end
      lengths    segments integers   byte length of each marshal segment
      marshal    segments × marshal.dumps(list[bytes]): the sorted tokens again

The name holds what the content depends on: the encoding, the sha256
tiktoken expects of its source file, the tiktoken, marshal and file format
versions. Files are written to a temporary name and renamed, so a reader
never sees half of one; any file that does not check out is ignored (and
rewritten by the next background load).
"""

from __future__ import annotations

import array
import contextlib
import logging
import marshal
import os
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import tiktoken

logger = logging.getLogger(__name__)

CACHE_DIR_ENV = "A2A_SESSIONS_TOKENS_CACHE"
"""Directory for the cached rank tables; empty turns the cache off. Default:
``$XDG_CACHE_HOME/a2a-session-manager/tokens`` (``~/.cache/...``)."""

_FORMAT = 2
_MAGIC = b"a2atok%d\n" % _FORMAT
_CHECKSUM = struct.Struct("<I")  # crc32: 1.3 ms for o200k's 5.4 MB, sha256 takes 3-7
_SIZES = struct.Struct("<III")
_SEGMENT = 16_384  # tokens per marshal segment: each load holds the GIL ~2 ms


def cache_dir() -> Path | None:
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if home.startswith("~"):  # no home directory: no cache, never one under the cwd
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "a2a-session-manager" / "tokens"


def _path(name: str, source_hash: str) -> Path | None:
    directory = cache_dir()
    if directory is None:
        return None
    key = f"{name}-{source_hash[:16]}-tiktoken{tiktoken.__version__}-m{marshal.version}"
    return directory / f"{key}.v{_FORMAT}.ranks"


def _u32(data: bytes | memoryview) -> array.array[int]:
    values = array.array("I")
    values.frombytes(data)
    if sys.byteorder == "big":
        values.byteswap()
    return values


class RankTable:
    """Ranks of one encoding, looked up without building a dict."""

    def __init__(self, body: memoryview, n: int, blob_size: int, segments: int) -> None:
        at = 4 * (n + 1)
        self._offsets = _u32(body[:at])
        self._ranks = _u32(body[at : at + 4 * n])
        at += 4 * n
        self._blob = bytes(body[at : at + blob_size])
        at += blob_size
        lengths = _u32(body[at : at + 4 * segments])
        at += 4 * segments
        self._segments = []
        for length in lengths:
            self._segments.append(body[at : at + length])
            at += length
        if at != len(body) or self._offsets[-1] != blob_size:
            raise ValueError("rank table sizes do not add up")
        self._n = n

    @property
    def size(self) -> int:
        return self._n

    def get(self, token: bytes) -> int | None:
        """The rank of ``token``, or ``None`` (binary search over the sorted tokens)."""
        blob, offsets = self._blob, self._offsets
        low, high = 0, self._n
        while low < high:
            middle = (low + high) >> 1
            if blob[offsets[middle] : offsets[middle + 1]] < token:
                low = middle + 1
            else:
                high = middle
        if low < self._n and blob[offsets[low] : offsets[low + 1]] == token:
            return self._ranks[low]
        return None

    def ranks(self) -> dict[bytes, int]:
        """tiktoken's ``mergeable_ranks``, built a segment at a time so that other
        threads get the GIL between segments."""
        ranks: dict[bytes, int] = {}
        start = 0
        for segment in self._segments:
            tokens = marshal.loads(segment)
            ranks.update(zip(tokens, self._ranks[start : start + len(tokens)], strict=True))
            start += len(tokens)
        return ranks


def load(name: str, source_hash: str) -> RankTable | None:
    """The cached table, or ``None`` when there is none or it does not check out."""
    path = _path(name, source_hash)
    if path is None:
        return None
    try:
        data = memoryview(path.read_bytes())
    except OSError:
        return None
    try:
        if data[: len(_MAGIC)] != _MAGIC:
            raise ValueError("not a rank table")
        checked = data[len(_MAGIC) + _CHECKSUM.size :]
        if _CHECKSUM.unpack_from(data, len(_MAGIC)) != (zlib.crc32(checked),):
            raise ValueError("checksum mismatch")
        n, blob_size, segments = _SIZES.unpack_from(checked)
        body = checked[_SIZES.size :]
        return RankTable(body, n, blob_size, segments)
    except (ValueError, struct.error, EOFError, TypeError) as exc:
        logger.debug("ignoring the cached ranks at %s: %s", path, exc)
        return None


def load_ranks(name: str, source_hash: str) -> dict[bytes, int] | None:
    """tiktoken's ``mergeable_ranks`` from the cached table, or ``None``."""
    table = load(name, source_hash)
    if table is None:
        return None
    try:
        ranks = table.ranks()
    except (ValueError, EOFError, TypeError) as exc:  # marshal's errors
        logger.debug("ignoring the cached ranks of %s: %s", name, exc)
        return None
    return ranks if len(ranks) == table.size else None


def _encode(ranks: dict[bytes, int]) -> bytes:
    tokens = sorted(ranks)
    offsets = array.array("I", [0])
    position = 0
    for token in tokens:
        position += len(token)
        offsets.append(position)
    sorted_ranks = array.array("I", [ranks[token] for token in tokens])
    segments = [
        marshal.dumps(tokens[start : start + _SEGMENT]) for start in range(0, len(tokens), _SEGMENT)
    ]
    lengths = array.array("I", [len(segment) for segment in segments])
    if sys.byteorder == "big":
        for values in (offsets, sorted_ranks, lengths):
            values.byteswap()
    body = b"".join(
        [offsets.tobytes(), sorted_ranks.tobytes(), b"".join(tokens), lengths.tobytes(), *segments]
    )
    checked = _SIZES.pack(len(tokens), position, len(segments)) + body
    return _MAGIC + _CHECKSUM.pack(zlib.crc32(checked)) + checked


def store(name: str, source_hash: str, ranks: dict[bytes, int]) -> bool:
    """Write the table for the next processes; ``False`` when the cache is off or
    not writable (counting works the same, the first counts just wait longer)."""
    path = _path(name, source_hash)
    if path is None:
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_encode(ranks))
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        logger.debug("could not cache the ranks of %s at %s: %s", name, path, exc)
        return False
    return True
