"""Small formatting helpers shared by the text and HTML renderers."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# What a terminal may act on instead of showing: C0 controls (ESC, BEL, CR,
# backspace ...), DEL and the C1 controls (0x9b is a one-byte CSI), plus the
# invisible format characters that reorder or hide text (bidi overrides,
# zero-width characters) and the Unicode line separators.
_OTHER_CONTROLS = r"\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff"
_UNSAFE = re.compile(rf"[\x00-\x1f{_OTHER_CONTROLS}]")
_OTHER_UNSAFE = re.compile(rf"[{_OTHER_CONTROLS}]")
_UNSAFE_KEEPING_LINES = re.compile(rf"[\x00-\x08\x0b-\x1f{_OTHER_CONTROLS}]")  # not \t \n


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every control character shown escaped (``\\x1b``,
    ``\\u202e``), so recorded text and ids can never drive the terminal.
    ``keep_lines`` lets newlines and tabs through (multi-line messages)."""
    pattern = _UNSAFE_KEEPING_LINES if keep_lines else _UNSAFE
    return pattern.sub(_escape, text)


def json_safe(document: str) -> str:
    """JSON text with the controls ``json.dumps(ensure_ascii=False)`` leaves raw
    (DEL, C1, format characters) written as ``\\u`` escapes: the same JSON
    value, safe to print. (C0 controls are already escaped by ``json``.)"""
    return _OTHER_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)


def format_duration(ms: float | None) -> str:
    if ms is None:
        return ""
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(ms / 1000, 60)
    if minutes < 60:
        return f"{int(minutes)}m {seconds:02.0f}s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)}h {int(minutes):02d}m"


def format_time(moment: datetime) -> str:
    """UTC, to the second: ``2025-05-01 12:00:03``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_clock(moment: datetime) -> str:
    """UTC time of day to the millisecond: ``12:00:03.120``."""
    return moment.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def one_line(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis,
    control characters escaped."""
    flat = terminal_safe(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """A plain text table; columns in ``right`` are right-aligned (numbers).
    Cells are shown with control characters escaped, on one line each."""
    right = right or set()
    rows = [[terminal_safe(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: list[str]) -> str:
        out = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])
