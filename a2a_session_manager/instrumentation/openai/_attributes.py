"""Request and response → ``chat`` span attributes (names from semconv only)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from operator import attrgetter
from typing import Any

from a2a_session_manager.instrumentation.openai._messages import (
    _is_mapping_type,
    chat_input_messages,
    chat_output_messages,
    field,
    fields,
    responses_input_messages,
    responses_output_messages,
    system_instructions,
)
from a2a_session_manager.instrumentation.openai._params import (
    CHAT_PARAMETERS,
    RESPONSES_PARAMETERS,
    request_attributes,
)
from a2a_session_manager.instrumentation.openai._usage import (
    USAGE_PROVIDER,
    _int,
    add_usage,
    usage_attributes,
)
from a2a_session_manager.telemetry import semconv

Attributes = dict[str, Any]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Keyed by the identity of the client's URL object (a new one is made whenever
# ``base_url`` is set; reading ``base_url`` re-derives it) and the client's
# class (Azure or not). The entry holds the URL object, so its id cannot be
# reused while cached. A plain dict lookup: a ``WeakKeyDictionary`` keyed by
# the client made a weak reference per call (about 1 µs of the 4 spent here).
_client_cache: dict[tuple[int, type], tuple[Any, Attributes]] = {}
_CLIENT_CACHE_SIZE = 256


def _url_object(client: Any) -> Any:
    # Read from the instance's state: in openai 3.x ``_base_url`` is a property
    # whose getter runs an import statement on every call (1.2 µs per call,
    # a tenth of the wrapper's own cost); older clients store ``_base_url``.
    state = getattr(client, "__dict__", None)
    if state is not None:
        url = state.get("_configured_base_url")
        if url is None:
            url = state.get("_base_url")
        if url is not None:
            return url
    return getattr(client, "_base_url", None)


def client_attributes(client: Any) -> Attributes:
    """Provider and server of the client that makes the call (a fresh dict)."""
    url_object = _url_object(client)
    key = (id(url_object), type(client))
    cached = _client_cache.get(key)
    if cached is not None and cached[0] is url_object:
        return dict(cached[1])
    attributes = _client_attributes(client)
    if url_object is not None:
        if len(_client_cache) >= _CLIENT_CACHE_SIZE:
            _client_cache.clear()
        _client_cache[key] = (url_object, attributes)
    return dict(attributes)


def _client_attributes(client: Any) -> Attributes:
    # Imported here, once per client URL (cached above): this module's helpers
    # also serve the Anthropic instrumentation, which must work without openai.
    from openai.lib.azure import BaseAzureClient

    provider = (
        semconv.PROVIDER_AZURE_OPENAI
        if isinstance(client, BaseAzureClient)
        else semconv.PROVIDER_OPENAI
    )
    attributes: Attributes = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_CHAT,
        semconv.GEN_AI_PROVIDER_NAME: provider,
    }
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None)
    if isinstance(host, str) and host:
        attributes[semconv.SERVER_ADDRESS] = host
        port = getattr(url, "port", None)
        if not _is_int(port):
            port = 443 if getattr(url, "scheme", "https") == "https" else 80
        attributes[semconv.SERVER_PORT] = port
    return attributes


def chat_request_attributes(kwargs: Mapping[str, Any]) -> Attributes:
    """Request attributes without content (see :func:`chat_request_content`)."""
    return request_attributes(CHAT_PARAMETERS, kwargs)


def chat_request_content(messages: Any, tools: Any = None) -> Attributes:
    """The request's messages (a snapshot of ``messages``; system and developer
    messages stay among them, as sent) and tool definitions as content attributes."""
    content: Attributes = {}
    if isinstance(messages, list | tuple):
        content[semconv.GEN_AI_INPUT_MESSAGES] = chat_input_messages(messages)
    if tools:
        content[semconv.GEN_AI_TOOL_DEFINITIONS] = tool_definitions(tools)
    return content


def responses_request_attributes(kwargs: Mapping[str, Any]) -> Attributes:
    """Request attributes without content (see :func:`responses_request_content`)."""
    return request_attributes(RESPONSES_PARAMETERS, kwargs)


def responses_request_content(instructions: Any, input_value: Any, tools: Any = None) -> Attributes:
    """The request's input, instructions (``instructions=``, as the conventions'
    system instructions) and tool definitions as content attributes."""
    content: Attributes = {}
    if isinstance(input_value, str | list | tuple):
        content[semconv.GEN_AI_INPUT_MESSAGES] = responses_input_messages(input_value)
    system = system_instructions(instructions)
    if system is not None:
        content[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = system
    if tools:
        content[semconv.GEN_AI_TOOL_DEFINITIONS] = tool_definitions(tools)
    return content


_DEFINITION_FIELDS = ("name", "description", "parameters")


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """The request's ``tools`` as the conventions' definitions: ``{"type", "name",
    "description", "parameters"}`` (fields the tool has). Chat completions nest a
    function under its type (``{"type": "function", "function": {...}}``); the
    Responses API's tools are flat; built-in tools keep only their type."""
    definitions = []
    for tool in tools:
        kind = field(tool, "type")
        nested = field(tool, kind) if isinstance(kind, str) else None
        source = nested if nested is not None else tool
        definition: dict[str, Any] = {"type": kind}
        for name in _DEFINITION_FIELDS:
            value = field(source, name)
            if value is not None:
                definition[name] = value
        definitions.append(definition)
    return definitions


_IDENTITY = ("id", "model", "service_tier")
_read_identity = attrgetter(*_IDENTITY)
_CHAT_RESPONSE = (*_IDENTITY, "system_fingerprint", "choices", "usage")
_read_chat_response = attrgetter(*_CHAT_RESPONSE)


def _identity(attributes: Attributes, response_id: Any, model: Any, tier: Any) -> None:
    if isinstance(response_id, str):
        attributes[semconv.GEN_AI_RESPONSE_ID] = response_id
    if isinstance(model, str):
        attributes[semconv.GEN_AI_RESPONSE_MODEL] = model
    if isinstance(tier, str):
        attributes[semconv.OPENAI_RESPONSE_SERVICE_TIER] = tier


def _response_identity(attributes: Attributes, response: Any) -> None:
    _identity(attributes, *fields(response, _read_identity, _IDENTITY))


# The response and its usage, as OpenAI sends them, in one C call (through the
# usage's details): reading the usage apart cost 0.7 µs of the wrapper's ~10.
_read_chat_whole = attrgetter(
    *_CHAT_RESPONSE[:-1],
    "usage.prompt_tokens",
    "usage.completion_tokens",
    "usage.prompt_tokens_details.cached_tokens",
    "usage.completion_tokens_details.reasoning_tokens",
)


def chat_response_attributes(response: Any) -> Attributes:
    """Attributes of a (non-streamed) ``ChatCompletion``, without content."""
    whole = _chat_response_whole(response)
    if whole is not None:
        return whole
    attributes: Attributes = {}
    response_id, model, tier, fingerprint, choices, usage = fields(
        response, _read_chat_response, _CHAT_RESPONSE
    )
    _identity(attributes, response_id, model, tier)
    if isinstance(fingerprint, str):
        attributes[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint
    _finish_reasons(attributes, choices)
    if usage is not None:
        add_usage(attributes, usage)
    return attributes


def _finish_reasons(attributes: Attributes, choices: Any) -> None:
    reasons = [str(r) for r in (field(c, "finish_reason") for c in choices or ()) if r is not None]
    if reasons:
        attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(reasons)


def _chat_response_whole(response: Any) -> Attributes | None:
    """:func:`chat_response_attributes` of a client object whose usage has both
    token counts and both details (OpenAI's own); ``None`` for anything else
    (a dict, no usage, other fields), read the general way."""
    if type(response) is dict or response is None or _is_mapping_type(type(response)):
        return None
    try:
        response_id, model, tier, fingerprint, choices, prompt, completion, cached, reasoning = (
            _read_chat_whole(response)
        )
    except AttributeError:
        return None
    if type(prompt) is not int or type(completion) is not int:
        return None
    attributes: Attributes = {}
    _identity(attributes, response_id, model, tier)
    if isinstance(fingerprint, str):
        attributes[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint
    _finish_reasons(attributes, choices)
    # As ``add_usage`` sets them for such a usage.
    attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] = prompt
    attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = completion
    if type(cached) is int or (cached := _int(cached)) is not None:
        attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    if type(reasoning) is int or (reasoning := _int(reasoning)) is not None:
        attributes[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    attributes[semconv.A2A_USAGE_SOURCE] = USAGE_PROVIDER
    return attributes


def chat_response_content(response: Any) -> Attributes:
    """The output messages of a ``ChatCompletion`` as content attributes."""
    choices = field(response, "choices") or ()
    return {semconv.GEN_AI_OUTPUT_MESSAGES: chat_output_messages(choices)}


def responses_finish_reason(response: Any) -> str:
    """The chat-style finish reason of a Responses ``response``."""
    status = field(response, "status")
    if status == "incomplete":
        reason = field(field(response, "incomplete_details"), "reason")
        return str(reason) if reason is not None else "incomplete"
    if status in ("failed", "cancelled"):
        return "error" if status == "failed" else "cancelled"
    output = field(response, "output") or ()
    if any(field(item, "type") == "function_call" for item in output):
        return "tool_calls"
    return "stop"


def responses_response_attributes(response: Any) -> Attributes:
    """Attributes of a Responses ``response`` object (returned, or the last stream
    event's), without content."""
    attributes: Attributes = {}
    _response_identity(attributes, response)
    reason = responses_finish_reason(response)
    attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = (reason,)
    attributes.update(usage_attributes(field(response, "usage")))
    return attributes


def responses_response_content(response: Any) -> Attributes:
    """The output of a Responses ``response`` as content attributes."""
    output = field(response, "output") or ()
    return {semconv.GEN_AI_OUTPUT_MESSAGES: responses_output_messages(output)}


# Long enough for any API error's message; a body echoed back whole is not kept.
ERROR_MESSAGE_LIMIT = 2000
_error_types: dict[type, str] = {}


def error_type(cls: type) -> str:
    """The class's qualified name as its users spell it: ``openai.RateLimitError``
    (the package's top-level name when it exports the class), ``TimeoutError``
    for builtins, else ``module.QualName``."""
    name = _error_types.get(cls)
    if name is None:
        module = cls.__module__
        top = module.partition(".")[0]
        if module == "builtins":
            name = cls.__qualname__
        elif getattr(sys.modules.get(top), cls.__qualname__, None) is cls:
            name = f"{top}.{cls.__qualname__}"
        else:
            name = f"{module}.{cls.__qualname__}"
        _error_types[cls] = name
    return name


def error_attributes(error: BaseException) -> Attributes:
    """``error.type``, the HTTP status when the error carries one, and the message."""
    message = str(error)
    if len(message) > ERROR_MESSAGE_LIMIT:
        message = message[:ERROR_MESSAGE_LIMIT] + "…"
    attributes: Attributes = {
        semconv.ERROR_TYPE: error_type(type(error)),
        semconv.A2A_ERROR_MESSAGE: message,
    }
    status = getattr(error, "status_code", None)
    if _is_int(status):
        attributes[semconv.HTTP_RESPONSE_STATUS_CODE] = status
    return attributes
