"""Request parameters → the conventions' ``gen_ai.request.*`` attributes.

One table per API, keyed by the keyword the client takes: a call passes a
handful of keywords, so walking what was passed costs a few dict lookups,
where asking for every known parameter cost a dozen (this runs on every call).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from a2a_session_manager.telemetry import semconv

Attributes = dict[str, Any]
_Setter = Callable[[Attributes, Any], None]
_JSON_FORMATS = frozenset({"json_object", "json_schema"})


_NUMBERS = (int, float)  # a tuple: ``int | float`` is built anew on every call


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(name: str) -> _Setter:
    def set_number(attributes: Attributes, value: Any) -> None:
        if isinstance(value, _NUMBERS) and not isinstance(value, bool):
            attributes[name] = value

    return set_number


def _integer(name: str) -> _Setter:
    def set_integer(attributes: Attributes, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            attributes[name] = value

    return set_integer


def _string(name: str) -> _Setter:
    def set_string(attributes: Attributes, value: Any) -> None:
        if isinstance(value, str):
            attributes[name] = value

    return set_string


def _legacy_max_tokens(attributes: Attributes, value: Any) -> None:
    # ``max_completion_tokens`` wins when both are given, whatever their order.
    if _is_int(value):
        attributes.setdefault(semconv.GEN_AI_REQUEST_MAX_TOKENS, value)


def _stop(attributes: Attributes, value: Any) -> None:
    if isinstance(value, str):
        attributes[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = (value,)
    elif isinstance(value, list | tuple) and all(isinstance(s, str) for s in value):
        attributes[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(value)


def _choice_count(attributes: Attributes, value: Any) -> None:
    if _is_int(value) and value != 1:  # the conventions: only when not 1
        attributes[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = value


def _format_kind(attributes: Attributes, kind: Any) -> None:
    if kind in _JSON_FORMATS:
        attributes[semconv.GEN_AI_OUTPUT_TYPE] = semconv.OUTPUT_TYPE_JSON
    elif kind == "text":
        attributes[semconv.GEN_AI_OUTPUT_TYPE] = semconv.OUTPUT_TYPE_TEXT


def _structured(attributes: Attributes, value: Any) -> None:
    """``parse(response_format=Model)`` / ``responses.parse(text_format=Model)``."""
    if isinstance(value, type):
        attributes[semconv.GEN_AI_OUTPUT_TYPE] = semconv.OUTPUT_TYPE_JSON


def _response_format(attributes: Attributes, value: Any) -> None:
    if isinstance(value, type):
        _structured(attributes, value)
    elif isinstance(value, Mapping):
        _format_kind(attributes, value.get("type"))


def _text(attributes: Attributes, value: Any) -> None:
    """The Responses API's ``text={"format": {"type": ...}}``."""
    if semconv.GEN_AI_OUTPUT_TYPE in attributes:  # ``text_format`` said it already
        return
    text_format = value.get("format") if isinstance(value, Mapping) else None
    if isinstance(text_format, Mapping):
        _format_kind(attributes, text_format.get("type"))


_COMMON: dict[str, _Setter] = {
    "model": _string(semconv.GEN_AI_REQUEST_MODEL),
    "temperature": _number(semconv.GEN_AI_REQUEST_TEMPERATURE),
    "top_p": _number(semconv.GEN_AI_REQUEST_TOP_P),
    "service_tier": _string(semconv.OPENAI_REQUEST_SERVICE_TIER),
}
CHAT_PARAMETERS: dict[str, _Setter] = {
    **_COMMON,
    "frequency_penalty": _number(semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    "presence_penalty": _number(semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
    "max_completion_tokens": _integer(semconv.GEN_AI_REQUEST_MAX_TOKENS),
    "max_tokens": _legacy_max_tokens,
    "seed": _integer(semconv.GEN_AI_REQUEST_SEED),
    "stop": _stop,
    "n": _choice_count,
    "response_format": _response_format,
}
RESPONSES_PARAMETERS: dict[str, _Setter] = {
    **_COMMON,
    "max_output_tokens": _integer(semconv.GEN_AI_REQUEST_MAX_TOKENS),
    "text_format": _structured,
    "text": _text,
}


def request_attributes(table: Mapping[str, _Setter], kwargs: Mapping[str, Any]) -> Attributes:
    """The parameters of ``kwargs`` that ``table`` knows, plus the stream flag
    (set if and only if the request streams, as the conventions say)."""
    attributes: Attributes = {}
    deferred_text = None
    for key, value in kwargs.items():
        setter = table.get(key)
        if setter is None:
            continue
        if setter is _text:
            deferred_text = value  # after ``text_format``, whatever the order
            continue
        setter(attributes, value)
    if deferred_text is not None:
        _text(attributes, deferred_text)
    if kwargs.get("stream") is True:
        attributes[semconv.GEN_AI_REQUEST_STREAM] = True
    return attributes
