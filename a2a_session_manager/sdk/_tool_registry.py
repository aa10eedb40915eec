"""Tools decorated with ``@tool``, by name, for the tool processor to call."""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegisteredTool:
    name: str
    function: Callable[..., Any]
    """The decorated function: calling it records an ``execute_tool`` span."""
    signature: inspect.Signature | None
    description: str | None


_tools: dict[str, RegisteredTool] = {}
_lock = threading.Lock()


def register_tool(tool: RegisteredTool) -> None:
    with _lock:
        previous = _tools.get(tool.name)
        if previous is not None and previous.function is not tool.function:
            logger.debug("tool %r registered again; the latest definition wins", tool.name)
        _tools[tool.name] = tool


def tool_registry() -> Mapping[str, RegisteredTool]:
    """A read-only snapshot of the registered tools, by name."""
    with _lock:
        return MappingProxyType(dict(_tools))


def get_tool(name: str) -> RegisteredTool | None:
    return _tools.get(name)
