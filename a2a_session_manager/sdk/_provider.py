"""Which tracer provider ``configure`` records through, and whether it is ours.

A provider ``configure`` created is *ours*: we may add exporters to it (the
OTLP exporter that ``OTEL_EXPORTER_OTLP_*`` asks for). An application's
provider is never given one from the environment: the application (or
``opentelemetry-instrument``) exports its own spans, and a second exporter
would send every span twice.

OpenTelemetry keeps the first global provider it is given. When ours is the
global one and the application sets its own afterwards, the API refuses it
(with a terse warning) and the application's exporters receive nothing; we
watch for that refusal and explain it once.
"""

from __future__ import annotations

import logging
import threading
import weakref

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger("a2a_session_manager.sdk")

_created: weakref.WeakSet[TracerProvider] = weakref.WeakSet()
_said: set[str] = set()
_said_lock = threading.Lock()

# What opentelemetry.trace logs when a second global provider is refused.
_OVERRIDE_REFUSED = "Overriding of current TracerProvider is not allowed"

LATE_PROVIDER = (
    "the application set its own tracer provider after a2a_session_manager.configure() "
    "had set one as the global provider; OpenTelemetry keeps the first, so spans reach "
    "a2a-session-manager's provider and the exporters of the application's provider "
    "receive nothing. Set your provider before calling configure() (configure attaches "
    "to it), or pass configure(tracer_provider=your_provider)."
)
FOREIGN_GLOBAL = (
    "the global tracer provider (%s) is not an OpenTelemetry SDK provider, so "
    "a2a-session-manager cannot attach to it: it records through a provider of its own, "
    "and spans of tracers taken from the global provider are not recorded in sessions. "
    "Pass configure(tracer_provider=...) to choose the provider."
)
OTLP_NOT_ADDED = (
    "OTEL_EXPORTER_OTLP_* is set, but the tracer provider is the application's: "
    "a2a-session-manager adds no OTLP exporter to it (the application exports its own "
    "spans; a second exporter would send each span twice). Pass "
    "configure(otlp_endpoint=...) to add one anyway."
)


def say_once(key: str, level: int, message: str, *args: object) -> None:
    """Log ``message`` the first time ``key`` comes up in this process."""
    with _said_lock:
        if key in _said:
            return
        _said.add(key)
    logger.log(level, message, *args)


def owns(provider: TracerProvider) -> bool:
    """Whether ``configure`` created ``provider`` (so may add exporters to it)."""
    return provider in _created


def provider_for(explicit: TracerProvider | None) -> TracerProvider:
    """``explicit``, else the global SDK provider, else a new provider of ours
    (made global when no provider was set)."""
    if explicit is not None:
        return explicit
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create())
    _created.add(provider)
    if isinstance(current, trace.ProxyTracerProvider):
        _watch_for_late_provider()
        trace.set_tracer_provider(provider)
    else:
        say_once("foreign-global", logging.WARNING, FOREIGN_GLOBAL, type(current).__name__)
    return provider


class _LateProviderWatch(logging.Filter):
    """Sees the API's refusal of a second global provider; explains it when
    the provider kept is ours. Never hides the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if record.getMessage() == _OVERRIDE_REFUSED and owns_global():
                say_once("late-provider", logging.WARNING, LATE_PROVIDER)
        except Exception:  # a logging filter must never raise into the caller
            pass
        return True


def owns_global() -> bool:
    current = trace.get_tracer_provider()
    return isinstance(current, TracerProvider) and owns(current)


_watch = _LateProviderWatch()


def _watch_for_late_provider() -> None:
    otel_logger = logging.getLogger(trace.__name__)
    if _watch not in otel_logger.filters:
        otel_logger.addFilter(_watch)


def forget_for_tests() -> None:
    """Forget what was said (test isolation)."""
    with _said_lock:
        _said.clear()
