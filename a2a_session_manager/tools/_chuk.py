"""Tools registered with ``chuk-tool-processor`` (the ``[tools]`` extra).

The original library ran its tools through chuk-tool-processor, so tools
registered in its registry (``@register_tool`` classes, ``register_fn_tool``
functions, ``registry.register_tool(...)``) are found by name as well. They
run through the processor's own execution (one recorded span per call, its
timeout, signature checks); chuk's ``ToolProcessor`` is not involved.

Names resolve as chuk's in-process strategy resolves them: ``ns.name`` in
namespace ``ns``; a plain name in ``default`` first, then in any namespace.
"""

from __future__ import annotations

import importlib.util
import inspect
import keyword
import logging
from collections.abc import Callable
from typing import Any

from a2a_session_manager.tools._resolved import ResolvedTool, signature_of

logger = logging.getLogger(__name__)

_DEFAULT_NAMESPACE = "default"


def chuk_available() -> bool:
    return importlib.util.find_spec("chuk_tool_processor") is not None


async def default_chuk_registry() -> Any:
    """chuk's process-wide registry, with its ``@register_tool`` classes registered.

    chuk registers decorated classes lazily, and only on its first registry
    access; classes decorated later (modules imported afterwards) wait in a
    pending list, which ``ensure_registrations`` empties (a no-op when empty).
    """
    from chuk_tool_processor.registry import ensure_registrations, get_default_registry

    registry = await get_default_registry()
    await ensure_registrations()
    return registry


async def _lookup(registry: Any, name: str) -> tuple[Any, str] | None:
    if "." in name:
        namespace, short = name.split(".", 1)
        found = await registry.get_tool(short, namespace)
        return (found, namespace) if found is not None else None
    found = await registry.get_tool(name, _DEFAULT_NAMESPACE)
    if found is not None:
        return found, _DEFAULT_NAMESPACE
    for info in await registry.list_tools():
        if info.name == name and info.namespace != _DEFAULT_NAMESPACE:
            found = await registry.get_tool(info.name, info.namespace)
            if found is not None:
                return found, info.namespace
    return None


def _entry_point(tool: Any) -> Callable[..., Any] | None:
    """The method chuk itself would call: async ``_aexecute``, else ``execute``
    (sync ``execute`` is accepted too: it runs in a worker thread), else the
    object when it is a plain callable (a function registered directly)."""
    aexecute = getattr(type(tool), "_aexecute", None)
    if aexecute is not None and inspect.iscoroutinefunction(aexecute):
        method: Callable[..., Any] = tool._aexecute
        return method
    execute = getattr(tool, "execute", None)
    if callable(execute):
        return execute  # type: ignore[no-any-return]
    return tool if callable(tool) else None


def _schema_signature(schema: Any) -> inspect.Signature | None:
    """A signature from the tool's JSON schema (``register_fn_tool`` records one),
    for entry points that take only ``**kwargs``."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return None
    listed = schema.get("required")
    required: list[Any] = listed if isinstance(listed, list) else []
    parameters = []
    for key in schema["properties"]:
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            return None
        default = inspect.Parameter.empty if key in required else None
        parameters.append(inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default))
    if schema.get("additionalProperties") is not False:
        parameters.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
    try:
        return inspect.Signature(parameters)
    except ValueError:
        return None


def _only_var_keyword(signature: inspect.Signature | None) -> bool:
    return signature is not None and all(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
    )


async def find_chuk_tool(registry: Any, name: str) -> ResolvedTool | None:
    """The tool ``name`` in chuk's ``registry``, or ``None``."""
    found = await _lookup(registry, name)
    if found is None:
        return None
    implementation, namespace = found
    tool = implementation() if inspect.isclass(implementation) else implementation
    entry = _entry_point(tool)
    if entry is None:
        logger.warning("chuk tool %r (%s) has no execute method", name, type(tool).__name__)
        return None
    signature = signature_of(entry)
    timeout = None
    short = name.split(".", 1)[1] if "." in name else name
    metadata = await registry.get_metadata(short, namespace)
    if metadata is not None:
        if _only_var_keyword(signature):
            signature = _schema_signature(getattr(metadata, "argument_schema", None)) or signature
        declared = getattr(metadata, "timeout", None)
        if isinstance(declared, int | float) and declared > 0:
            timeout = float(declared)
    return ResolvedTool(name, entry, signature, "chuk", timeout)
