"""``configure()``: attach session recording to OpenTelemetry, once.

Environment variables honoured:

``OTEL_SDK_DISABLED``        ``true``: no spans, nothing stored; decorators still run
                             user code and keep the current session in context.
``OTEL_SERVICE_NAME``        the service name of a provider we create.
``OTEL_EXPORTER_OTLP_*``     an endpoint turns on OTLP export (``[otlp]`` extra) from a
                             provider ``configure`` created; an application's provider
                             exports its own spans (``otlp_endpoint=`` adds one anyway);
                             GenAI metrics too, when no meter provider is set.
``A2A_SESSIONS_STORE``       the store URL (``file://DIR``, ``redis://HOST:PORT/DB``) when
                             the first ``configure`` is given no ``store``.
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
                             ``SPAN_ONLY`` / ``SPAN_AND_EVENT``: OTLP export carries
                             message content (``NO_CONTENT`` by default; other values
                             fail closed).
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from a2a_session_manager.exporters._buffer import DEFAULT_MAX_BYTES, DEFAULT_MAX_ITEMS
from a2a_session_manager.exporters._metrics import GenAIMetricsProcessor
from a2a_session_manager.exporters._otlp import (
    OtlpSpanProcessor,
    otlp_configured,
    otlp_processor,
)
from a2a_session_manager.exporters._processor import (
    DEFAULT_FLUSH_DEADLINE,
    DEFAULT_SHUTDOWN_TIMEOUT,
    SessionSpanProcessor,
)
from a2a_session_manager.sdk._environment import store_from_environment
from a2a_session_manager.sdk._meters import meter_provider_for
from a2a_session_manager.sdk._provider import (
    OTLP_NOT_ADDED,
    forget_for_tests,
    owns,
    provider_for,
    say_once,
)
from a2a_session_manager.sdk._runtime import RUNTIME
from a2a_session_manager.sdk._sampling import RecordEverySpan
from a2a_session_manager.storage.base import SessionStore
from a2a_session_manager.storage.provider import SessionStoreProvider
from a2a_session_manager.telemetry._remote import RemoteSessions, set_remote_sessions
from a2a_session_manager.telemetry._tracers import TRACER_NAME
from a2a_session_manager.tokens import warm_up

logger = logging.getLogger(__name__)

Redactor = Callable[[dict[str, Any]], dict[str, Any]]

_INSTRUMENTORS = {
    "openai": ("a2a_session_manager.instrumentation.openai", "OpenAIInstrumentor"),
    "anthropic": ("a2a_session_manager.instrumentation.anthropic", "AnthropicInstrumentor"),
    "openai_agents": (
        "a2a_session_manager.instrumentation.openai_agents",
        "OpenAIAgentsInstrumentor",
    ),
    "a2a": ("a2a_session_manager.instrumentation.a2a", "A2AInstrumentor"),
    "litellm": ("a2a_session_manager.instrumentation.litellm", "LiteLLMInstrumentor"),
}


def sdk_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


class Handle:
    """What ``configure`` returns: flush, shut down, and look at what happened."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None,
        processor: SessionSpanProcessor | None,
        otlp: SpanProcessor | None,
    ) -> None:
        self.tracer_provider = tracer_provider
        self.processor = processor
        self.otlp_processor = otlp
        self.metrics_processor: GenAIMetricsProcessor | None = None
        # A meter provider configure() made (and so flushes and shuts down).
        self.own_meter_provider: Any = None
        self.shutdown_timeout = DEFAULT_SHUTDOWN_TIMEOUT
        self._shut = False

    @property
    def enabled(self) -> bool:
        return self.processor is not None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Store everything recorded so far (and send it over OTLP), waiting
        at most about ``timeout_millis`` for each."""
        ok = True
        if self.processor is not None:
            ok = self.processor.force_flush(timeout_millis)
        otlp = self.otlp_processor
        if otlp is not None:
            flushed = run_bounded(lambda: otlp.force_flush(timeout_millis), timeout_millis / 1000)
            ok = flushed is True and ok
        if self.metrics_processor is not None:
            ok = self.metrics_processor.force_flush(timeout_millis) and ok
        meters = self.own_meter_provider
        if meters is not None:
            flushed = run_bounded(lambda: meters.force_flush(timeout_millis), timeout_millis / 1000)
            ok = flushed is True and ok
        return ok

    def shutdown(self) -> None:
        """Flush and stop the exporter threads; also runs at interpreter exit.
        Returns within ``shutdown_timeout`` (``configure``) whatever the store
        or the collector does; what was not written is counted in ``stats()``."""
        if self._shut:
            return
        self._shut = True
        deadline = time.monotonic() + self.shutdown_timeout
        if self.processor is not None:
            self.processor.shutdown()  # bounded by the same timeout, on its own
        otlp = self.otlp_processor
        if otlp is not None:
            left = max(0.0, deadline - time.monotonic())
            run_bounded(otlp.shutdown, left)
        if self.metrics_processor is not None:
            self.metrics_processor.shutdown()
        if self.own_meter_provider is not None:
            run_bounded(self.own_meter_provider.shutdown, max(0.0, deadline - time.monotonic()))
        if RUNTIME.processor is self.processor:
            RUNTIME.processor = None

    def stats(self) -> dict[str, Any]:
        """Queue, buffer and loss counts (``dropped_*`` are never silent)."""
        return self.processor.stats() if self.processor is not None else {}


_lock = threading.Lock()
_handle: Handle | None = None
_atexit_registered = False


def _otlp_wanted(endpoint: str | None, provider: TracerProvider) -> bool:
    """``otlp_endpoint=`` always; the environment's endpoint only on a provider
    of ours (an application's provider exports its own spans)."""
    if endpoint:
        return True
    if not otlp_configured(None):
        return False
    if owns(provider):
        return True
    say_once("otlp-not-added", logging.INFO, OTLP_NOT_ADDED)
    return False


def _attach_metrics(
    handle: Handle,
    provider: TracerProvider,
    meter_provider: MeterProvider | None,
    endpoint: str | None,
) -> None:
    """GenAI metrics through the application's meter provider (or one of ours,
    see :func:`meter_provider_for`); once per handle."""
    if handle.metrics_processor is not None:
        return
    found, made = meter_provider_for(meter_provider, owns(provider), endpoint)
    if found is None:
        return
    handle.metrics_processor = GenAIMetricsProcessor(found)
    handle.own_meter_provider = found if made else None
    provider.add_span_processor(handle.metrics_processor)


def run_bounded(call: Callable[[], Any], timeout: float) -> Any:
    """``call()`` in a daemon thread; its result, or ``None`` if it did not
    return within ``timeout`` seconds (it goes on, but nobody waits for it)."""
    result: list[Any] = []

    def target() -> None:
        try:
            result.append(call())
        except Exception:
            logger.exception("a2a-session-manager: shutting down an exporter failed")

    thread = threading.Thread(target=target, name="a2a-session-bounded", daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0] if result else None


def _instrument(names: Iterable[str], provider: TracerProvider) -> None:
    for name in names:
        target = _INSTRUMENTORS.get(name)
        if target is None:
            logger.error("unknown instrumentation %r (known: %s)", name, sorted(_INSTRUMENTORS))
            continue
        try:
            module = importlib.import_module(target[0])
            instrumentor = getattr(module, target[1])()
        except (ImportError, AttributeError):
            logger.error("instrumentation %r is not available", name, exc_info=True)
            continue
        try:
            instrumentor.instrument(tracer_provider=provider)
        except Exception:
            logger.exception("instrumenting %r failed", name)


def configure(
    *,
    store: SessionStore | None = None,
    otlp_endpoint: str | None = None,
    capture_content: bool = True,
    tracer_provider: TracerProvider | None = None,
    instrument: Iterable[str] = (),
    redact: Redactor | None = None,
    max_queue_size: int = 65_536,
    max_buffered_items: int = DEFAULT_MAX_ITEMS,
    max_buffered_bytes: int = DEFAULT_MAX_BYTES,
    schedule_delay: float = 0.5,
    flush_deadline: float = DEFAULT_FLUSH_DEADLINE,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    record_unsampled: bool = True,
    remote_sessions: RemoteSessions = "deny",
    meter_provider: MeterProvider | None = None,
) -> Handle:
    """Record sessions from OpenTelemetry spans. Safe to call again.

    Attaches a :class:`SessionSpanProcessor` to ``tracer_provider``, else to
    the global SDK provider, else to a new provider (made global only if no
    provider was set). A user's provider and its processors are never
    replaced. ``store`` also becomes ``SessionStoreProvider``'s store; without
    it the first call builds the store ``A2A_SESSIONS_STORE`` names (when
    set), else the provider's current store is used at each write.

    A second call on the same provider reconfigures the existing processor
    (store, content capture, redaction) and returns the same handle; it never
    adds a second processor. ``redact(message) -> message`` sees every message
    before it is stored or exported. With ``record_unsampled`` (default) the
    provider's sampler is wrapped so spans it drops are still recorded into
    the store, while exporters to collectors see only sampled spans.

    ``remote_sessions`` decides whether a session named by a caller in another
    process (W3C baggage) may be read as a parent (``ancestors()``, the
    HIERARCHICAL prompt): ``"deny"`` (default), ``"allow"``, or
    ``policy(session_id, context) -> bool`` for services that authenticate
    their callers. Such a session is never written to, whatever the policy.

    GenAI client metrics (the conventions' ``gen_ai.client.inference.*``
    instruments and our cost counter) are recorded for our instrumentations'
    calls through ``meter_provider``, else the global meter provider; when
    neither is set, a ``configure`` that made the tracer provider and exports
    over OTLP makes one exporting to the same collector. Otherwise no
    metrics are recorded.

    Bounds (production guarantees): a returning outermost run or session
    waits at most ``flush_deadline`` seconds (default 5) for its write, then
    goes on (counted as ``late`` in ``stats()``); ``shutdown()`` returns
    within ``shutdown_timeout`` seconds (default 30); while the store is
    unavailable at most ``max_buffered_items`` events and runs (default
    100,000) and about ``max_buffered_bytes`` (default 128 MiB) wait for it,
    beyond which the oldest are dropped and counted. These bounds take
    effect when the processor is created (the first call on a provider).
    """
    global _handle, _atexit_registered
    with _lock:
        set_remote_sessions(remote_sessions)
        if store is None and _handle is None:
            store = store_from_environment()
        if store is not None:
            SessionStoreProvider.set_store(store)
        if sdk_disabled():
            RUNTIME.tracer = None
            RUNTIME.processor = None
            if _handle is None or _handle.enabled:
                _handle = Handle(None, None, None)
            return _handle
        provider = provider_for(tracer_provider)
        if _handle is not None and _handle.enabled and _handle.tracer_provider is provider:
            assert _handle.processor is not None
            _handle.processor.reconfigure(
                store=store, capture_content=capture_content, redact=redact
            )
            RUNTIME.capture_content = capture_content
            _reconfigure_otlp(_handle, provider, otlp_endpoint, redact, capture_content)
            _attach_metrics(_handle, provider, meter_provider, otlp_endpoint)
            _instrument(instrument, provider)
            return _handle
        if _handle is not None:
            _handle.shutdown()  # a different provider: the old processor stops writing
        processor = SessionSpanProcessor(
            store,
            capture_content=capture_content,
            redact=redact,
            max_queue_size=max_queue_size,
            max_buffered_items=max_buffered_items,
            max_buffered_bytes=max_buffered_bytes,
            schedule_delay=schedule_delay,
            flush_deadline=flush_deadline,
            shutdown_timeout=shutdown_timeout,
        )
        provider.add_span_processor(processor)
        if record_unsampled and not isinstance(provider.sampler, RecordEverySpan):
            provider.sampler = RecordEverySpan(provider.sampler)
        otlp = None
        if _otlp_wanted(otlp_endpoint, provider):
            otlp = otlp_processor(otlp_endpoint, redact, capture_content=capture_content)
            if otlp is not None:
                provider.add_span_processor(otlp)
        RUNTIME.tracer = provider.get_tracer(TRACER_NAME)
        RUNTIME.processor = processor
        RUNTIME.capture_content = capture_content
        _handle = Handle(provider, processor, otlp)
        _handle.shutdown_timeout = shutdown_timeout
        _attach_metrics(_handle, provider, meter_provider, otlp_endpoint)
        warm_up()  # encodings and prices, off the caller's thread
        if not _atexit_registered:
            atexit.register(_shutdown_at_exit)
            _atexit_registered = True
        _instrument(instrument, provider)
        return _handle


def _reconfigure_otlp(
    handle: Handle,
    provider: TracerProvider,
    endpoint: str | None,
    redact: Redactor | None,
    capture_content: bool,
) -> None:
    """A later call may turn OTLP export on, and its ``redact`` applies to export too."""
    if isinstance(handle.otlp_processor, OtlpSpanProcessor):
        handle.otlp_processor.reconfigure(redact=redact, capture_content=capture_content)
    elif handle.otlp_processor is None and _otlp_wanted(endpoint, provider):
        handle.otlp_processor = otlp_processor(endpoint, redact, capture_content=capture_content)
        if handle.otlp_processor is not None:
            provider.add_span_processor(handle.otlp_processor)


def _shutdown_at_exit() -> None:
    handle = _handle
    if handle is not None:
        try:
            handle.shutdown()
        except Exception:
            logger.exception("a2a-session-manager shutdown at exit failed")


def current_handle() -> Handle | None:
    return _handle


def reset_for_tests() -> None:
    """Shut down and forget the configuration (test isolation)."""
    global _handle
    with _lock:
        if _handle is not None:
            _handle.shutdown()
        _handle = None
        RUNTIME.reset()
        set_remote_sessions("deny")
        forget_for_tests()
