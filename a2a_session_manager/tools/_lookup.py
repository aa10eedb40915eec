"""Finding a tool by name: tools given to the processor, then ``@tool``'s
registry, then chuk-tool-processor's registry (when installed)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from a2a_session_manager.sdk import RegisteredTool, get_tool, tool_registry
from a2a_session_manager.tools._chuk import chuk_available, default_chuk_registry, find_chuk_tool
from a2a_session_manager.tools._resolved import ResolvedTool, signature_of

logger = logging.getLogger(__name__)

Tools = Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]]


def _registered(function: Callable[..., Any]) -> RegisteredTool | None:
    """The ``@tool`` registration whose decorated function is ``function``."""
    for registered in tool_registry().values():
        if registered.function is function:
            return registered
    return None


def _from_sdk(name: str, registered: RegisteredTool, source: str) -> ResolvedTool:
    # ``@tool``'s wrapper records a span without a call id; the processor records
    # its own span (with the call id and parent event), so it calls what the
    # wrapper wraps.
    function = getattr(registered.function, "__wrapped__", registered.function)
    signature = registered.signature or signature_of(function)
    return ResolvedTool(name, function, signature, source)


def _explicit(tools: Tools | None) -> dict[str, ResolvedTool]:
    if tools is None:
        return {}
    named: list[tuple[str | None, Callable[..., Any]]]
    if isinstance(tools, Mapping):
        named = list(tools.items())
    else:
        named = [(None, function) for function in tools]
    out: dict[str, ResolvedTool] = {}
    for given, function in named:
        if not callable(function):
            raise TypeError(f"tool {given or function!r} is not callable")
        registered = _registered(function)
        name = given or (registered.name if registered else getattr(function, "__name__", None))
        if not isinstance(name, str) or not name:
            raise TypeError(f"tool {function!r} has no name; pass tools as a mapping")
        if registered is not None:
            out[name] = _from_sdk(name, registered, "explicit")
        else:
            out[name] = ResolvedTool(name, function, signature_of(function), "explicit")
    return out


class ToolLookup:
    """Resolves tool names for one processor."""

    def __init__(self, tools: Tools | None, *, use_chuk: bool, chuk_registry: Any | None) -> None:
        self._explicit = _explicit(tools)
        self._use_chuk = use_chuk and (chuk_registry is not None or chuk_available())
        self._chuk_registry = chuk_registry

    async def find(self, name: str) -> ResolvedTool | None:
        found = self._explicit.get(name)
        if found is not None:
            return found
        registered = get_tool(name)
        if registered is not None:
            return _from_sdk(name, registered, "sdk")
        if not self._use_chuk:
            return None
        try:
            registry = self._chuk_registry
            if registry is None:
                registry = await default_chuk_registry()
            return await find_chuk_tool(registry, name)
        except Exception:
            # The optional registry must not break the batch: the tool is then unknown.
            logger.warning(
                "looking up %r in chuk-tool-processor's registry failed", name, exc_info=True
            )
            return None
