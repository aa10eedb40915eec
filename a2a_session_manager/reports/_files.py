"""Writing report files without following what is planted where they go."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

_REPORT_MODE = 0o644


def replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file and rename it over ``path``.

    Report names next to the main report derive from stored session ids, in
    a directory others may write to: a symlink or a hard link planted under
    such a name is replaced by the report, never followed, so no file
    elsewhere is overwritten or truncated. A reader never sees half a report.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".report-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(temporary, _REPORT_MODE)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
