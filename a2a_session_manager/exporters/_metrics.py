"""GenAI client metrics, recorded from our instrumentations' inference spans.

The instruments are the GenAI conventions' (``client-inference.md`` and
``gen-ai-token-metrics.md`` of open-telemetry/semantic-conventions-genai):

=====================================================  =========  ===========
``gen_ai.client.inference.duration``                    histogram  ``s``
``gen_ai.client.inference.time_to_first_chunk``         histogram  ``s`` (streams)
``gen_ai.client.inference.usage.input_tokens``          counter    ``{token}``
``gen_ai.client.inference.usage.output_tokens``         counter    ``{token}``
``gen_ai.client.inference.usage.cache_read.input_tokens``   counter ``{token}``
``gen_ai.client.inference.usage.cache_write.input_tokens``  counter ``{token}``
``gen_ai.client.inference.usage.reasoning.output_tokens``   counter ``{token}``
``gen_ai.client.inference.operation.input_tokens``      histogram  ``{token}``
``gen_ai.client.inference.operation.output_tokens``     histogram  ``{token}``
=====================================================  =========  ===========

plus our own cost counter (``semconv.METRIC_COST``, ``{USD}``), with the
conventions' attributes and bucket boundaries; and, for our ``run``
(``invoke_agent``) and ``tool`` (``execute_tool``) spans, also those the
OpenAI Agents SDK's agent turns open, the conventions' agent and tool metrics:

=====================================================  =========  ===========
``gen_ai.invoke_agent.duration``                        histogram  ``s``
``gen_ai.execute_tool.duration``                        histogram  ``s``
=====================================================  =========  ===========

each the span's duration, with ``error.type`` when it failed (or was
cancelled) and the identifying attributes the span carries: ``gen_ai.agent.{name,id,version}``
and ``gen_ai.request.model`` for agents, ``gen_ai.tool.{name,type}`` and
``gen_ai.agent.name`` for tools. The conventions give these two no bucket
boundaries, so none are advised: the SDK's defaults apply unless the
application sets a ``View``. Usage counters carry
``gen_ai.token.modality``: per modality when the span breaks usage down
(``gen_ai.usage.{text,image,audio}.*``), the rest under ``unknown``; a call
without usage records ``0`` under ``unknown``, as the conventions ask.

Only spans of our own tracers are measured: other instrumentations (the
official OpenAI one, OpenLLMetry) record their own metrics, and measuring
their spans too would count their calls twice.

Speed: one measurement costs the OpenTelemetry SDK (1.45) about a quarter of
our whole OpenAI wrapper (its attribute cleaning and hashing), and a call
makes nine of them. So ``on_end`` only queues the (ended, immutable) span
and a background thread records the queue in batches, every
``schedule_delay`` seconds or sooner when it fills (and prices the calls);
the counters add up in our own totals,
read by the SDK through observable counters when it collects (the same
monotonic sums, one observation per attribute set per collection), and only
the histograms are measured per call. ``force_flush`` records what is queued,
in the caller's thread. With this, the caller's thread pays about a
microsecond per call for metrics; the background thread pays the SDK
(``benchmarks/bench_openai.py`` measures both).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from a2a_session_manager.exporters._fork import watch_process_boundaries
from a2a_session_manager.exporters._mapping import span_attributes
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._fast_spans import blind_on_start
from a2a_session_manager.telemetry._guard import internal_errors
from a2a_session_manager.telemetry._tracers import TRACER_NAME, is_own_tracer
from a2a_session_manager.tokens.pricing import estimate_cost

logger = logging.getLogger(__name__)

DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip

_INFERENCE = frozenset({semconv.OPERATION_CHAT, "text_completion", "generate_content"})
_IDENTITY = (
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_PROVIDER_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_RESPONSE_MODEL,
    semconv.SERVER_ADDRESS,
    semconv.SERVER_PORT,
)
_MEASURED = _INFERENCE | {semconv.OPERATION_INVOKE_AGENT, semconv.OPERATION_EXECUTE_TOOL}
_AGENT_IDENTITY = (
    semconv.GEN_AI_AGENT_NAME,
    semconv.GEN_AI_AGENT_ID,
    semconv.GEN_AI_AGENT_VERSION,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.ERROR_TYPE,
)
_TOOL_IDENTITY = (
    semconv.GEN_AI_TOOL_NAME,
    semconv.GEN_AI_TOOL_TYPE,
    semconv.GEN_AI_AGENT_NAME,
    semconv.ERROR_TYPE,
)
_MAX_QUEUED = 20_000
_BATCH = 512  # queued spans that wake the worker before its schedule


def _version() -> str:
    try:
        return version("a2a-session-manager")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


_Key = tuple[tuple[str, Any], ...]


class _Totals:
    """Cumulative sums per attribute set: an observable counter's readings."""

    def __init__(self) -> None:
        self._sums: dict[_Key, float] = {}
        self._lock = threading.Lock()

    def add(self, value: float, attributes: Mapping[str, Any]) -> None:
        key = tuple(attributes.items())
        with self._lock:
            self._sums[key] = self._sums.get(key, 0) + value

    def start_over(self) -> None:
        """In a forked child: its own sums, and a lock no parent thread holds."""
        self._sums = {}
        self._lock = threading.Lock()

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            sums = list(self._sums.items())
        return [Observation(value, dict(key)) for key, value in sums]


class _Instruments:
    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter(TRACER_NAME, _version())
        self.duration = meter.create_histogram(
            semconv.METRIC_INFERENCE_DURATION,
            unit="s",
            description="GenAI client inference operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.first_chunk = meter.create_histogram(
            semconv.METRIC_INFERENCE_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streaming response.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        token = "{token}"
        self.input = self._counter(
            meter, semconv.METRIC_USAGE_INPUT_TOKENS, token, "Input tokens used."
        )
        self.output = self._counter(
            meter, semconv.METRIC_USAGE_OUTPUT_TOKENS, token, "Output tokens used."
        )
        self.cache_read = self._counter(
            meter,
            semconv.METRIC_USAGE_CACHE_READ_INPUT_TOKENS,
            token,
            "Input tokens served from a provider-managed cache.",
        )
        self.cache_write = self._counter(
            meter,
            semconv.METRIC_USAGE_CACHE_WRITE_INPUT_TOKENS,
            token,
            "Input tokens written to a provider-managed cache.",
        )
        self.reasoning = self._counter(
            meter,
            semconv.METRIC_USAGE_REASONING_OUTPUT_TOKENS,
            token,
            "Output tokens used for reasoning.",
        )
        self.operation_input = meter.create_histogram(
            semconv.METRIC_OPERATION_INPUT_TOKENS,
            unit=token,
            description="Input tokens per inference operation.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.operation_output = meter.create_histogram(
            semconv.METRIC_OPERATION_OUTPUT_TOKENS,
            unit=token,
            description="Output tokens per inference operation.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.agent_duration = meter.create_histogram(
            semconv.METRIC_INVOKE_AGENT_DURATION,
            unit="s",
            description="The end-to-end duration of a single agent invocation.",
        )
        self.tool_duration = meter.create_histogram(
            semconv.METRIC_EXECUTE_TOOL_DURATION,
            unit="s",
            description="The duration of a single tool execution.",
        )
        self.cost = self._counter(
            meter,
            semconv.METRIC_COST,
            "{USD}",
            "Estimated cost of inference operations (genai-prices); "
            "calls at unknown price add nothing.",
        )

    @staticmethod
    def _counter(meter: Any, name: str, unit: str, description: str) -> _Totals:
        totals = _Totals()
        meter.create_observable_counter(
            name, callbacks=[totals.observe], unit=unit, description=description
        )
        return totals


def _int(attrs: Mapping[str, Any], key: str) -> int | None:
    value = attrs.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@blind_on_start
class GenAIMetricsProcessor(SpanProcessor):
    """Records the conventions' GenAI metrics for our inference, agent and
    tool spans through ``meter_provider``'s instruments."""

    def __init__(self, meter_provider: MeterProvider, *, schedule_delay: float = 0.5) -> None:
        self.meter_provider = meter_provider
        self.schedule_delay = schedule_delay
        self._instruments = _Instruments(meter_provider)
        self._queue: deque[ReadableSpan] = deque()
        self._record_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._worker: threading.Thread | None = None
        self._pid = 0
        self.dropped = 0
        watch_process_boundaries(self)

    # -- SpanProcessor -------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        scope = span.instrumentation_scope
        if scope is None or not is_own_tracer(scope.name) or self._stopped:
            return
        # The plain dict, not the read-only view (whose lookups go through the ABC).
        if span_attributes(span).get(semconv.GEN_AI_OPERATION_NAME) not in _MEASURED:
            return
        queued = len(self._queue)
        if queued >= _MAX_QUEUED:
            self.dropped += 1  # bounded: a stalled worker never grows memory
            return
        self._queue.append(span)
        if not self._pid:  # no worker yet in this process (a forked child resets it)
            self._start_worker()
        if queued == _BATCH:
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self._record_queued()
        return True

    def shutdown(self) -> None:
        self._stopped = True
        self._record_queued()
        self._wake.set()

    # -- process boundaries (exporters._fork) ------------------------------------
    def before_fork(self) -> None:
        # No recording in progress while the process is copied: the SDK's
        # instruments and our sums are consistent in the child.
        self._record_lock.acquire()

    def after_fork_in_parent(self) -> None:
        self._record_lock.release()

    def after_fork_in_child(self) -> None:
        # The parent's queued spans are the parent's to record; the child
        # counts its own calls from zero, with fresh locks and its own worker.
        self._record_lock = threading.Lock()
        self._queue.clear()
        self._wake = threading.Event()
        self._worker = None
        self._pid = 0
        for totals in vars(self._instruments).values():
            if isinstance(totals, _Totals):
                totals.start_over()

    def on_process_exit(self) -> None:
        self._record_queued()

    # -- recording -------------------------------------------------------------
    def _start_worker(self) -> None:
        # Also in a forked child, whose copy of the parent's thread is gone.
        self._pid = os.getpid()
        self._worker = threading.Thread(target=self._work, name="a2a-genai-metrics", daemon=True)
        self._worker.start()

    def _work(self) -> None:
        while not self._stopped:
            self._wake.wait(self.schedule_delay)
            self._wake.clear()
            self._record_queued()

    def _record_queued(self) -> None:
        with self._record_lock:
            while self._queue:
                try:
                    span = self._queue.popleft()
                except IndexError:
                    return
                with internal_errors("recording GenAI metrics"):
                    self._record(span_attributes(span), span.start_time or 0, span.end_time or 0)

    def _record(self, attrs: Mapping[str, Any], start: int, end: int) -> None:
        operation = attrs.get(semconv.GEN_AI_OPERATION_NAME)
        if operation == semconv.OPERATION_INVOKE_AGENT:
            self._record_span(self._instruments.agent_duration, _AGENT_IDENTITY, attrs, start, end)
        elif operation == semconv.OPERATION_EXECUTE_TOOL:
            self._record_span(self._instruments.tool_duration, _TOOL_IDENTITY, attrs, start, end)
        else:
            self._record_inference(attrs, start, end)

    @staticmethod
    def _record_span(
        histogram: Any, keys: Iterable[str], attrs: Mapping[str, Any], start: int, end: int
    ) -> None:
        """An agent's or tool's span duration, with the attributes the span has."""
        if end >= start > 0:
            histogram.record((end - start) / 1e9, {key: attrs[key] for key in keys if key in attrs})

    def _record_inference(self, attrs: Mapping[str, Any], start: int, end: int) -> None:
        ins = self._instruments
        identity = {key: attrs[key] for key in _IDENTITY if key in attrs}
        with_error = identity
        error_type = attrs.get(semconv.ERROR_TYPE)
        if error_type is not None:
            with_error = {**identity, semconv.ERROR_TYPE: error_type}
        if end >= start > 0:
            ins.duration.record((end - start) / 1e9, with_error)
        first_chunk = attrs.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        if isinstance(first_chunk, int | float) and first_chunk >= 0:
            ins.first_chunk.record(float(first_chunk), identity)
        input_tokens = _int(attrs, semconv.GEN_AI_USAGE_INPUT_TOKENS)
        output_tokens = _int(attrs, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
        by_input = semconv.GEN_AI_USAGE_INPUT_TOKENS_BY_MODALITY
        by_output = semconv.GEN_AI_USAGE_OUTPUT_TOKENS_BY_MODALITY
        self._by_modality(ins.input, input_tokens, attrs, by_input, identity)
        self._by_modality(ins.output, output_tokens, attrs, by_output, identity)
        unknown = {**identity, semconv.GEN_AI_TOKEN_MODALITY: "unknown"}
        for counter, key in (
            (ins.cache_read, semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
            (ins.cache_write, semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
            (ins.reasoning, semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
        ):
            value = _int(attrs, key)
            if value:
                counter.add(value, unknown)
        ins.operation_input.record(input_tokens or 0, with_error)
        ins.operation_output.record(output_tokens or 0, with_error)
        model = attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL)
        if isinstance(model, str) and model and (input_tokens or output_tokens):
            provider = attrs.get(semconv.GEN_AI_PROVIDER_NAME)
            cost = estimate_cost(
                model,
                input_tokens=input_tokens or 0,
                output_tokens=output_tokens or 0,
                cached_input_tokens=_int(attrs, semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) or 0,
                cache_write_input_tokens=(
                    _int(attrs, semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS) or 0
                ),
                provider=provider if isinstance(provider, str) else None,
            )
            if cost is not None:
                ins.cost.add(cost, identity)

    @staticmethod
    def _by_modality(
        counter: Any,
        total: int | None,
        attrs: Mapping[str, Any],
        keys: Mapping[str, str],
        identity: dict[str, Any],
    ) -> None:
        """``total`` split by the span's per-modality counts; the rest (or a
        missing total, as 0) under ``unknown``."""
        rest = total or 0
        for modality, key in keys.items():
            part = _int(attrs, key)
            if part:
                counter.add(part, {**identity, semconv.GEN_AI_TOKEN_MODALITY: modality})
                rest -= part
        if rest > 0 or total is None or total == 0:
            counter.add(max(rest, 0), {**identity, semconv.GEN_AI_TOKEN_MODALITY: "unknown"})
