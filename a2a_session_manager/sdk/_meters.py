"""Which ``MeterProvider`` GenAI metrics go through (``configure``)."""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.metrics import MeterProvider, NoOpMeterProvider

from a2a_session_manager.exporters._otlp import otlp_configured, otlp_meter_provider


def _is_set(provider: MeterProvider) -> bool:
    # The API's default is a proxy that records nothing until a provider is set.
    return not isinstance(provider, NoOpMeterProvider) and (
        type(provider).__name__ != "_ProxyMeterProvider"
    )


def meter_provider_for(
    explicit: MeterProvider | None, owns_pipeline: bool, otlp_endpoint: str | None
) -> tuple[MeterProvider | None, bool]:
    """The application's meter provider (``explicit``, else the global one);
    else, when ``configure`` owns the pipeline (made the tracer provider) and
    OTLP is configured, one exporting there (made global); else none: no
    metrics. The flag says ``configure`` made it (and so shuts it down)."""
    if explicit is not None:
        return explicit, False
    current = metrics.get_meter_provider()
    if _is_set(current):
        return current, False
    if owns_pipeline and (otlp_endpoint or otlp_configured(None)):
        made = otlp_meter_provider(otlp_endpoint)
        if made is not None:
            metrics.set_meter_provider(made)
            return made, True
    return None, False
