"""Append-only log files: locked appends, torn-tail repair, plain reads.

A line is committed once its newline is on disk. Every append is one
``write()`` under an exclusive ``flock`` on the file, so writers in several
threads and processes never interleave lines. A writer killed mid-write can
leave a last line without its newline (a torn tail): readers ignore it, and
the next writer cuts it off before appending, so it never ends up in the
middle of the log. Readers take no lock: whatever they see up to the last
newline is complete.

Functions here raise ``OSError``; the store maps it to its own errors.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable

logger = logging.getLogger(__name__)

FileKey = tuple[int, int]  # (st_dev, st_ino): which file a path named when we held it

_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW
_WRITE_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
_CHUNK = 1 << 16


def file_key(path: str) -> FileKey | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def locked_append(
    path: str,
    build: Callable[[bool, FileKey], bytes],
    *,
    create: bool,
    fsync: bool,
    on_written: Callable[[], None] | None = None,
) -> FileKey | None:
    """Append ``build(is_new, key)`` to the log at ``path`` under its lock.

    ``build`` runs while the lock is held, so it may decide what to write
    from what this process knows the file holds; ``on_written`` runs after a
    successful write, still under the lock. Returns the file's key, or
    ``None`` when the file does not exist and ``create`` is false.
    """
    flags = _WRITE_FLAGS | (os.O_CREAT if create else 0)
    while True:
        try:
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            if not create:
                return None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            if file_key(path) != key:
                continue  # deleted or replaced while we waited for the lock: start over
            size = _drop_torn_tail(fd, st.st_size, path)
            data = build(size == 0, key)
            if data:
                _write_all(fd, data, size)
                if fsync:
                    os.fsync(fd)
            if fsync and st.st_size == 0:
                _fsync_directory(os.path.dirname(path) or ".")
            if on_written is not None:
                on_written()
            return key
        finally:
            os.close(fd)  # also releases the lock


def read_log(path: str) -> bytes | None:
    """The whole log, or ``None`` if it does not exist."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        return None
    with open(fd, "rb") as f:
        return f.read()


def read_first_line(path: str) -> bytes | None:
    """The first complete line (without its newline), or ``None`` if the file
    does not exist or holds no complete line yet."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        return None
    with open(fd, "rb") as f:
        buffered = b""
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                return None
            end = chunk.find(b"\n")
            if end >= 0:
                return buffered + chunk[:end]
            buffered += chunk


def remove_locked(path: str, before_unlink: Callable[[bytes], None]) -> bool:
    """Delete the log at ``path`` while holding its lock, so no writer appends
    to a file that is already gone. ``before_unlink`` sees its content.
    Returns ``False`` if there was no such file."""
    while True:
        try:
            fd = os.open(path, _WRITE_FLAGS)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if file_key(path) != _key_of(fd):
                continue
            with open(os.dup(fd), "rb") as f:
                content = f.read()
            before_unlink(content)
            os.unlink(path)
            return True
        finally:
            os.close(fd)


def _key_of(fd: int) -> FileKey:
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino)


def _drop_torn_tail(fd: int, size: int, path: str) -> int:
    """Cut an unterminated last line left by a writer that died; return the new size."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    logger.warning("dropping %d bytes of an unfinished write at the end of %s", size - end, path)
    os.ftruncate(fd, end)
    return end


def _write_all(fd: int, data: bytes, size_before: int) -> None:
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError:
        # Roll back a partial write (disk full, ...) so the log stays whole.
        try:
            os.ftruncate(fd, size_before)
        except OSError:
            logger.debug("could not roll back a partial write", exc_info=True)
        raise


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
