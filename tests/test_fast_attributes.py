"""Attributes our instrumentation built skip the SDK's checks, and end up as
the SDK would have stored them; anything unusual goes through the SDK."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import SpanLimits, TracerProvider

from a2a_session_manager.telemetry._fast_attributes import set_trusted_attributes

VALUES: dict[str, Any] = {
    "s": "text",
    "b": True,
    "i": 3,
    "f": 0.5,
    "t": ("a", "b"),
    "l": ["stop"],
}


def _stored(provider: TracerProvider, values: dict[str, Any], *, trusted: bool) -> dict[str, Any]:
    span = provider.get_tracer("t").start_span("s")
    if trusted:
        set_trusted_attributes(span, values)
    else:
        span.set_attributes(values)
    span.end()
    return dict(span.attributes or {})


def test_trusted_values_are_stored_as_the_sdk_stores_them() -> None:
    provider = TracerProvider()
    assert _stored(provider, VALUES, trusted=True) == _stored(provider, VALUES, trusted=False)
    assert _stored(provider, VALUES, trusted=True)["l"] == ("stop",)


def test_values_needing_the_sdks_checks_go_through_it() -> None:
    provider = TracerProvider()
    odd = {"nested": {"a": 1}, "mixed": [1, "x"], "none": None}
    assert _stored(provider, odd, trusted=True) == _stored(provider, odd, trusted=False)
    mixed_tuple = {"s": "text", "t": ("a", 1)}
    assert _stored(provider, mixed_tuple, trusted=True) == _stored(
        provider, mixed_tuple, trusted=False
    )


def test_limits_are_kept() -> None:
    provider = TracerProvider(span_limits=SpanLimits(max_attributes=3, max_attribute_length=2))
    assert _stored(provider, VALUES, trusted=True) == _stored(provider, VALUES, trusted=False)


def test_an_ended_span_is_left_alone() -> None:
    span = TracerProvider().get_tracer("t").start_span("s")
    span.end()
    set_trusted_attributes(span, {"late": "x"})
    assert "late" not in (span.attributes or {})


def test_typed_values_are_stored_as_the_sdk_stores_them_and_keep_the_limits() -> None:
    typed = {key: value for key, value in VALUES.items() if key != "l"}  # no list: typed
    for provider in (
        TracerProvider(),
        TracerProvider(span_limits=SpanLimits(max_attributes=3, max_attribute_length=2)),
    ):
        span = provider.get_tracer("t").start_span("s")
        set_trusted_attributes(span, typed, typed=True)
        span.end()
        assert dict(span.attributes or {}) == _stored(provider, typed, trusted=False)
