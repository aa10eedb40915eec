"""Request and response → ``chat`` span attributes (names from semconv only)."""

from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter
from typing import Any

from a2a_session_manager.instrumentation.anthropic._messages import (
    finish_reason,
    input_messages,
    output_message,
    system_instructions,
    tool_definitions,
)
from a2a_session_manager.instrumentation.openai._messages import field, fields
from a2a_session_manager.instrumentation.openai._params import (
    _integer,
    _number,
    _Setter,
    _stop,
    _string,
    request_attributes,
)
from a2a_session_manager.instrumentation.openai._usage import USAGE_PROVIDER
from a2a_session_manager.telemetry import semconv

Attributes = dict[str, Any]


def _output_format(attributes: Attributes, value: Any) -> None:
    """``parse(output_format=Model)`` or ``output_config={"format": {...}}``."""
    if isinstance(value, type) or (
        isinstance(value, Mapping) and isinstance(value.get("format"), Mapping)
    ):
        attributes[semconv.GEN_AI_OUTPUT_TYPE] = semconv.OUTPUT_TYPE_JSON


PARAMETERS: dict[str, _Setter] = {
    "model": _string(semconv.GEN_AI_REQUEST_MODEL),
    "max_tokens": _integer(semconv.GEN_AI_REQUEST_MAX_TOKENS),
    "temperature": _number(semconv.GEN_AI_REQUEST_TEMPERATURE),
    "top_p": _number(semconv.GEN_AI_REQUEST_TOP_P),
    "top_k": _integer(semconv.GEN_AI_REQUEST_TOP_K),
    "stop_sequences": _stop,
    "output_format": _output_format,
    "output_config": _output_format,
}

# Anthropic's clients for other clouds share the resource classes; told apart by class name.
_CLOUD_PROVIDERS = (
    ("Bedrock", semconv.PROVIDER_AWS_BEDROCK),
    ("Vertex", semconv.PROVIDER_GCP_VERTEX_AI),
)
_client_cache: dict[tuple[int, type], tuple[Any, Attributes]] = {}
_CLIENT_CACHE_SIZE = 256


def client_attributes(client: Any) -> Attributes:
    """Provider and server of the client that makes the call (a fresh dict).

    Cached by the identity of the client's URL object (a new one is made
    whenever ``base_url`` is set) and its class."""
    url = getattr(client, "__dict__", {}).get("_base_url")
    key = (id(url), type(client))
    cached = _client_cache.get(key)
    if cached is not None and cached[0] is url:
        return dict(cached[1])
    name = type(client).__name__
    provider = next((p for marker, p in _CLOUD_PROVIDERS if marker in name), None)
    attributes: Attributes = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_CHAT,
        semconv.GEN_AI_PROVIDER_NAME: provider or semconv.PROVIDER_ANTHROPIC,
    }
    host = getattr(url, "host", None)
    if isinstance(host, str) and host:
        attributes[semconv.SERVER_ADDRESS] = host
        port = getattr(url, "port", None)
        if not isinstance(port, int):
            port = 443 if getattr(url, "scheme", "https") == "https" else 80
        attributes[semconv.SERVER_PORT] = port
    if url is not None:
        if len(_client_cache) >= _CLIENT_CACHE_SIZE:
            _client_cache.clear()
        _client_cache[key] = (url, attributes)
    return dict(attributes)


def request_parameters(kwargs: Mapping[str, Any]) -> Attributes:
    return request_attributes(PARAMETERS, kwargs)


def request_content(system: Any, messages: Any, tools: Any) -> Attributes:
    """``system``, ``messages`` and ``tools`` of a request (snapshots) as content attributes."""
    content: Attributes = {}
    if isinstance(messages, list):
        content[semconv.GEN_AI_INPUT_MESSAGES] = input_messages(messages)
    instructions = system_instructions(system)
    if instructions is not None:
        content[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = instructions
    if tools:
        content[semconv.GEN_AI_TOOL_DEFINITIONS] = tool_definitions(tools)
    return content


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_USAGE = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "output_tokens_details",
)
_read_usage = attrgetter(*_USAGE)


def usage_attributes(usage: Any) -> Attributes:
    """Anthropic's usage in the conventions' terms: the input total includes the
    cache-read and cache-write tokens, which Anthropic reports apart."""
    if usage is None:
        return {}
    uncached, output, cache_read, cache_write, details = fields(usage, _read_usage, _USAGE)
    uncached, output = _int(uncached), _int(output)
    cache_read = _int(cache_read) or 0
    cache_write = _int(cache_write) or 0
    attributes: Attributes = {}
    if uncached is not None:
        attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] = uncached + cache_read + cache_write
        attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
        attributes[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = cache_write
    if output is not None:
        attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = output
    thinking = _int(field(details, "thinking_tokens"))
    if thinking is not None:
        attributes[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = thinking
    if attributes:
        attributes[semconv.A2A_USAGE_SOURCE] = USAGE_PROVIDER
    return attributes


_MESSAGE = ("id", "model", "stop_reason", "usage")
_read_message = attrgetter(*_MESSAGE)


def response_attributes(message: Any) -> Attributes:
    """Attributes of a (non-streamed) ``Message``, without content."""
    message_id, model, stop_reason, usage = fields(message, _read_message, _MESSAGE)
    attributes = usage_attributes(usage)
    if isinstance(message_id, str):
        attributes[semconv.GEN_AI_RESPONSE_ID] = message_id
    if isinstance(model, str):
        attributes[semconv.GEN_AI_RESPONSE_MODEL] = model
    reason = finish_reason(stop_reason)
    if reason is not None:
        attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = (str(reason),)  # a plain str
    return attributes


def response_content(message: Any) -> Attributes:
    return {semconv.GEN_AI_OUTPUT_MESSAGES: [output_message(message)]}
