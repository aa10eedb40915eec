"""A tool found by name, ready to run."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ResolvedTool:
    name: str
    function: Callable[..., Any]
    """What to call: never a function that records a span of its own (the
    processor records one ``execute_tool`` span per call, with its call id)."""
    signature: inspect.Signature | None
    """What the arguments are checked against before the call (``None``: not checked)."""
    source: str  # "explicit" | "sdk" | "chuk"
    timeout: float | None = None
    """The tool's own timeout in seconds, when its registry declares one."""


def signature_of(function: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):  # some builtins and C callables have none
        return None
