"""Append-only log files: locked appends, torn-tail repair, plain reads.

A line is committed once its newline is on disk. Every append is one
``write()`` under an exclusive ``flock`` on the file, so writers in several
threads and processes never interleave lines. A writer killed mid-write can
leave a last line without its newline (a torn tail): readers ignore it, and
the next writer cuts it off before appending, so it never ends up in the
middle of the log. Readers take no lock: whatever they see up to the last
newline is complete.

Only a regular file with one link is a log. Every open uses ``O_NOFOLLOW``
and ``O_NONBLOCK`` and checks the open file (``fstat``) before reading,
appending or truncating: a symlink, FIFO, socket, device or directory planted
under a log's name, or a hard link to a file elsewhere, raises
``UnsafeLogError`` and is never read, written or waited on.

Functions here raise ``OSError``; the store maps it to its own errors.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
from collections.abc import Callable

logger = logging.getLogger(__name__)

FileKey = tuple[int, int]  # (st_dev, st_ino): which file a path named when we held it

# O_NONBLOCK: opening a FIFO must not wait for a writer (it changes nothing
# for a regular file, the only kind read after the checks).
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
_WRITE_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
_CHUNK = 1 << 16
# What open() says for a name that is not a plain file: a symlink under
# O_NOFOLLOW, a socket, a directory opened for writing.
_NOT_A_FILE_ERRNOS = frozenset({errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.EOPNOTSUPP})


class UnsafeLogError(OSError):
    """The name of a log holds something that is not a plain, singly linked file."""


def _open(path: str, flags: int) -> int:
    """Open ``path`` and check it is a regular file with one link."""
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno in _NOT_A_FILE_ERRNOS:
            raise UnsafeLogError(
                exc.errno, f"not a regular file (a symlink?), refused: {exc.strerror}", path
            ) from exc
        raise
    try:
        _check_plain(os.fstat(fd), path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_plain(st: os.stat_result, path: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeLogError(
            errno.EINVAL, f"not a regular file ({_kind(st.st_mode)}), refused", path
        )
    if st.st_nlink > 1:
        raise UnsafeLogError(
            errno.EMLINK, f"has {st.st_nlink} hard links (a log has one), refused", path
        )


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a plain file"


def file_key(path: str) -> FileKey | None:
    st = _lstat(path)
    return None if st is None else (st.st_dev, st.st_ino)


def file_key_and_size(path: str) -> tuple[FileKey, int] | None:
    st = _lstat(path)
    return None if st is None else ((st.st_dev, st.st_ino), st.st_size)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None


def locked_append(
    path: str,
    build: Callable[[int, FileKey], bytes],
    *,
    create: bool,
    fsync: bool,
    on_written: Callable[[int], None] | None = None,
) -> FileKey | None:
    """Append ``build(size, key)`` to the log at ``path`` under its lock.

    ``build`` runs while the lock is held, with the file's size (0: a new
    log) and key, so it may decide what to write from what this process knows
    the file holds; ``on_written(new_size)`` runs after a successful write,
    still under the lock. Returns the file's key, or ``None`` when the file
    does not exist and ``create`` is false.
    """
    flags = _WRITE_FLAGS | (os.O_CREAT if create else 0)
    while True:
        try:
            fd = _open(path, flags)
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
            _check_plain(st, path)  # again: a link made while we waited for the lock
            size = _drop_torn_tail(fd, st.st_size, path)
            data = build(size, key)
            if data:
                _write_all(fd, data, size)
                if fsync:
                    os.fsync(fd)
            if fsync and st.st_size == 0:
                _fsync_directory(os.path.dirname(path) or ".")
            if on_written is not None:
                on_written(size + len(data))
            return key
        finally:
            _unlock_and_close(fd)


def read_log(path: str) -> bytes | None:
    """The whole log, or ``None`` if it does not exist."""
    try:
        fd = _open(path, _READ_FLAGS)
    except FileNotFoundError:
        return None
    with open(fd, "rb") as f:
        return f.read()


def read_first_line(path: str) -> bytes | None:
    """The first complete line (without its newline), or ``None`` if the file
    does not exist or holds no complete line yet."""
    try:
        fd = _open(path, _READ_FLAGS)
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
            fd = _open(path, _WRITE_FLAGS)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            st = os.fstat(fd)
            if file_key(path) != (st.st_dev, st.st_ino):
                continue
            _check_plain(st, path)
            with open(os.dup(fd), "rb") as f:
                content = f.read()
            before_unlink(content)
            os.unlink(path)
            return True
        finally:
            _unlock_and_close(fd)


def _unlock_and_close(fd: int) -> None:
    # Unlock explicitly: a process forked while we held the lock shares this
    # open file, and closing only our descriptor would leave the lock held
    # until the child exits (every writer of the log blocked meanwhile).
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


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


def read_log_from(path: str, offset: int) -> tuple[FileKey, bytes] | None:
    """The file's key and its bytes from ``offset`` on (all of them when the
    file is shorter: it was replaced), or ``None`` if it does not exist."""
    try:
        fd = _open(path, _READ_FLAGS)
    except FileNotFoundError:
        return None
    with open(fd, "rb") as f:
        st = os.fstat(f.fileno())
        key = (st.st_dev, st.st_ino)
        if offset > st.st_size:
            offset = 0
        f.seek(offset)
        return key, f.read()


def locked_replace(path: str, build: Callable[[bytes], bytes]) -> None:
    """Replace the file at ``path`` with ``build(its content)``, atomically
    (a new file renamed over it) and under its lock, so no append is lost:
    a writer waiting for the lock finds the name now holds another file
    and starts over on it (see ``locked_append``)."""
    while True:
        try:
            fd = _open(path, _WRITE_FLAGS)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            st = os.fstat(fd)
            if file_key(path) != (st.st_dev, st.st_ino):
                continue
            _check_plain(st, path)
            with open(os.dup(fd), "rb") as f:
                content = f.read()
            temporary = f"{path}.{os.getpid()}.tmp"
            with open(temporary, "wb") as out:
                out.write(build(content))
            os.replace(temporary, path)
            return
        finally:
            os.close(fd)
