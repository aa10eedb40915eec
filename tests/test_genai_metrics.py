"""GenAI client metrics as the newest conventions define them, read back
through an ``InMemoryMetricReader`` and over OTLP/HTTP by a real receiver:
names, units, attributes, bucket boundaries, and values equal to the usage the
spans recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import a2a_session_manager as asm
from a2a_session_manager.exporters._metrics import DURATION_BUCKETS, TOKEN_BUCKETS
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.sdk import Handle
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.testing import ErrorReply, LocalOpenAIServer, Reply
from a2a_session_manager.tokens import estimate_cost
from tests.support.otlp_metrics_receiver import OtlpMetricsReceiver

MODEL = "gpt-4o-mini"
IDENTITY = {
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_PROVIDER_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_RESPONSE_MODEL,
    semconv.SERVER_ADDRESS,
    semconv.SERVER_PORT,
}


@dataclass
class Metered:
    handle: Handle
    reader: InMemoryMetricReader
    spans: InMemorySpanExporter

    def points(self) -> dict[str, list[tuple[Any, Any]]]:
        """metric name -> [(metric, point)] collected now."""
        self.handle.force_flush()
        data = self.reader.get_metrics_data()
        out: dict[str, list[tuple[Any, Any]]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        out.setdefault(metric.name, []).append((metric, point))
        return out

    def chat_spans(self) -> list[ReadableSpan]:
        return [
            s
            for s in self.spans.get_finished_spans()
            if (s.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME) == semconv.OPERATION_CHAT
        ]


@pytest.fixture
def metered(clean_otel: None) -> Iterator[Metered]:
    provider = TracerProvider()
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    handle = asm.configure(
        store=InMemorySessionStore(),
        tracer_provider=provider,
        meter_provider=meters,
        instrument=("openai",),
    )
    yield Metered(handle, reader, spans)
    OpenAIInstrumentor().uninstrument()
    handle.shutdown()
    meters.shutdown()
    provider.shutdown()


def _only(points: dict[str, list[tuple[Any, Any]]], name: str) -> tuple[Any, Any]:
    found = points[name]
    assert len(found) == 1, found
    return found[0]


def _check_call(metered: Metered, *, streamed: bool) -> None:
    (span,) = metered.chat_spans()
    attrs = span.attributes or {}
    points = metered.points()
    identity = {key: attrs[key] for key in IDENTITY}

    metric, duration = _only(points, semconv.METRIC_INFERENCE_DURATION)
    assert metric.unit == "s"
    assert tuple(duration.explicit_bounds) == DURATION_BUCKETS
    assert dict(duration.attributes) == identity
    assert duration.count == 1
    assert duration.sum == pytest.approx((span.end_time - span.start_time) / 1e9)

    input_tokens = attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS]
    output_tokens = attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]
    assert input_tokens > 0 and output_tokens > 0
    unknown = {**identity, semconv.GEN_AI_TOKEN_MODALITY: "unknown"}
    for name, value in (
        (semconv.METRIC_USAGE_INPUT_TOKENS, input_tokens),
        (semconv.METRIC_USAGE_OUTPUT_TOKENS, output_tokens),
    ):
        metric, point = _only(points, name)
        assert metric.unit == "{token}" and metric.data.is_monotonic
        assert (dict(point.attributes), point.value) == (unknown, value)
    for name, value in (
        (semconv.METRIC_OPERATION_INPUT_TOKENS, input_tokens),
        (semconv.METRIC_OPERATION_OUTPUT_TOKENS, output_tokens),
    ):
        metric, point = _only(points, name)
        assert metric.unit == "{token}"
        assert tuple(point.explicit_bounds) == TOKEN_BUCKETS
        assert (dict(point.attributes), point.count, point.sum) == (identity, 1, value)

    metric, cost = _only(points, semconv.METRIC_COST)
    assert metric.unit == "{USD}"
    expected = estimate_cost(MODEL, input_tokens=input_tokens, output_tokens=output_tokens)
    assert cost.value == pytest.approx(expected)

    if streamed:
        assert attrs[semconv.GEN_AI_REQUEST_STREAM] is True
        first = attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
        assert 0 <= first <= (span.end_time - span.start_time) / 1e9
        metric, point = _only(points, semconv.METRIC_INFERENCE_TIME_TO_FIRST_CHUNK)
        assert metric.unit == "s" and tuple(point.explicit_bounds) == DURATION_BUCKETS
        assert (dict(point.attributes), point.sum) == (identity, pytest.approx(first))
    else:
        assert semconv.GEN_AI_REQUEST_STREAM not in attrs
        assert semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in attrs
        assert semconv.METRIC_INFERENCE_TIME_TO_FIRST_CHUNK not in points


MESSAGES: Any = [{"role": "user", "content": "What is the capital of France?"}]


def test_sync_call(
    metered: Metered, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("Paris."))
    openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    _check_call(metered, streamed=False)


def test_sync_stream(
    metered: Metered, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("The capital of France is Paris."))
    stream = openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    _check_call(metered, streamed=True)


async def test_async_call_and_stream(
    metered: Metered,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(Reply("Paris."))
    await async_openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    _check_call(metered, streamed=False)
    metered.spans.clear()
    metered.reader.get_metrics_data()  # cumulative: compare the stream on its own below
    openai_server.queue(Reply("Paris, again."))
    stream = await async_openai_client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True
    )
    async for _ in stream:
        pass
    (span,) = metered.chat_spans()
    points = metered.points()
    assert span.attributes is not None
    assert span.attributes[semconv.GEN_AI_REQUEST_STREAM] is True
    _, first = _only(points, semconv.METRIC_INFERENCE_TIME_TO_FIRST_CHUNK)
    assert first.sum == pytest.approx(span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK])
    _, durations = _only(points, semconv.METRIC_INFERENCE_DURATION)
    assert durations.count == 2


def test_cached_and_reasoning_tokens_are_counted(
    metered: Metered, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(
        Reply("Paris.", prompt_tokens=2_000, completion_tokens=300, cached_tokens=1_024,
              reasoning_tokens=200)
    )  # fmt: skip
    openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    points = metered.points()
    assert _only(points, semconv.METRIC_USAGE_INPUT_TOKENS)[1].value == 2_000
    assert _only(points, semconv.METRIC_USAGE_CACHE_READ_INPUT_TOKENS)[1].value == 1_024
    assert _only(points, semconv.METRIC_USAGE_REASONING_OUTPUT_TOKENS)[1].value == 200
    assert semconv.METRIC_USAGE_CACHE_WRITE_INPUT_TOKENS not in points
    cost = _only(points, semconv.METRIC_COST)[1].value
    assert cost == pytest.approx(
        estimate_cost(MODEL, input_tokens=2_000, output_tokens=300, cached_input_tokens=1_024)
    )


def test_failed_call_records_duration_with_error_and_zero_tokens(
    metered: Metered, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(ErrorReply(status=500))
    with pytest.raises(openai.InternalServerError):
        openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    (span,) = metered.chat_spans()
    error_type = (span.attributes or {})[semconv.ERROR_TYPE]
    points = metered.points()
    _, duration = _only(points, semconv.METRIC_INFERENCE_DURATION)
    assert duration.attributes[semconv.ERROR_TYPE] == error_type
    _, tokens = _only(points, semconv.METRIC_USAGE_INPUT_TOKENS)
    assert tokens.value == 0 and tokens.attributes[semconv.GEN_AI_TOKEN_MODALITY] == "unknown"
    _, per_call = _only(points, semconv.METRIC_OPERATION_INPUT_TOKENS)
    assert (per_call.count, per_call.sum) == (1, 0)
    assert per_call.attributes[semconv.ERROR_TYPE] == error_type
    assert semconv.METRIC_COST not in points


def test_no_meter_provider_means_no_metrics(clean_otel: None) -> None:
    handle = asm.configure(store=InMemorySessionStore(), tracer_provider=TracerProvider())
    assert handle.metrics_processor is None


def test_global_meter_provider_is_used(clean_otel: None) -> None:
    from opentelemetry import metrics

    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(meters)
    handle = asm.configure(store=InMemorySessionStore(), tracer_provider=TracerProvider())
    assert handle.metrics_processor is not None
    assert handle.metrics_processor.meter_provider is meters
    meters.shutdown()


def test_metrics_over_otlp_to_a_real_receiver(
    tmp_path: Path, otlp_metrics_receiver: OtlpMetricsReceiver
) -> None:
    """``configure(otlp_endpoint=...)`` that owns the pipeline sends the metrics
    to the collector with the spans (a fresh process: no global providers)."""
    with LocalOpenAIServer() as server:
        server.queue(Reply("Paris."), Reply("Paris, streamed."))
        script = textwrap.dedent(
            f"""
            import openai
            import a2a_session_manager as asm
            handle = asm.configure(otlp_endpoint={otlp_metrics_receiver.endpoint!r},
                                   instrument=("openai",))
            client = openai.OpenAI(base_url={server.base_url!r}, api_key="t", max_retries=0)
            messages = [{{"role": "user", "content": "Capital of France?"}}]
            client.chat.completions.create(model="{MODEL}", messages=messages)
            for _ in client.chat.completions.create(
                model="{MODEL}", messages=messages, stream=True
            ):
                pass
            handle.shutdown()
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**_clean_env(), "OTEL_SERVICE_NAME": "metrics-test"},
        )
        assert done.returncode == 0, done.stderr
        prompt = [r.body for r in server.requests]
    assert len(prompt) == 2
    received = otlp_metrics_receiver.metrics()
    (unit, duration), *_ = received[semconv.METRIC_INFERENCE_DURATION]
    assert unit == "s"
    assert [float(b) for b in duration["explicitBounds"]] == list(DURATION_BUCKETS)
    assert int(duration["count"]) == 2
    attributes = {a["key"]: a["value"] for a in duration["attributes"]}
    assert attributes[semconv.GEN_AI_OPERATION_NAME] == {"stringValue": "chat"}
    assert attributes[semconv.GEN_AI_PROVIDER_NAME] == {"stringValue": "openai"}
    assert attributes[semconv.GEN_AI_REQUEST_MODEL] == {"stringValue": MODEL}
    (unit, first), *_ = received[semconv.METRIC_INFERENCE_TIME_TO_FIRST_CHUNK]
    assert unit == "s" and int(first["count"]) == 1
    (unit, tokens), *_ = received[semconv.METRIC_USAGE_INPUT_TOKENS]
    assert unit == "{token}" and int(tokens["asInt"]) > 0
    (unit, per_call), *_ = received[semconv.METRIC_OPERATION_OUTPUT_TOKENS]
    assert [int(b) for b in per_call["explicitBounds"]] == list(TOKEN_BUCKETS)
    assert semconv.METRIC_COST in received


def _clean_env() -> dict[str, str]:
    import os

    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OTEL_") and k not in ("PYTEST_CURRENT_TEST", "A2A_SESSIONS_STORE")
    }


def _input_tokens(metered: Metered) -> float:
    points = metered.points().get(semconv.METRIC_USAGE_INPUT_TOKENS, [])
    return sum(point.value for _, point in points)


def test_a_forked_child_counts_its_own_calls_and_never_hangs(
    metered: Metered, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(*[Reply("Paris.") for _ in range(4)])
    openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    parent_tokens = _input_tokens(metered)
    assert parent_tokens > 0
    # Fork while the parent still has a call queued for its metrics worker.
    openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    pid = os.fork()
    if pid == 0:  # the child: one call of its own, its counters from zero
        code = 1
        try:
            openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
            code = 0 if _input_tokens(metered) == parent_tokens else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done[0] == pid, "the forked child hung"
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert _input_tokens(metered) == 2 * parent_tokens  # the parent's two calls, once each


# -- agent and tool metrics ------------------------------------------------------


def _spans_of(metered: Metered, operation: str) -> list[ReadableSpan]:
    return [
        s
        for s in metered.spans.get_finished_spans()
        if (s.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME) == operation
    ]


def _seconds(span: ReadableSpan) -> float:
    assert span.start_time is not None and span.end_time is not None
    return (span.end_time - span.start_time) / 1e9


@asm.tool
def lookup(city: str) -> str:
    return f"Sunny in {city}."


@asm.tool("explode")
def explode() -> None:
    raise ValueError("no such city")


def test_run_and_tool_durations_are_the_spans_durations(
    metered: Metered, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("Paris."))
    with asm.session("agent-metrics"), asm.run("planner"):
        lookup("Paris")
        lookup("Rome")
        openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    (run_span,) = _spans_of(metered, semconv.OPERATION_INVOKE_AGENT)
    tool_spans = _spans_of(metered, semconv.OPERATION_EXECUTE_TOOL)
    points = metered.points()

    metric, agent = _only(points, semconv.METRIC_INVOKE_AGENT_DURATION)
    assert (metric.unit, metric.description) == (
        "s",
        "The end-to-end duration of a single agent invocation.",
    )
    assert dict(agent.attributes) == {semconv.GEN_AI_AGENT_NAME: "planner"}
    assert agent.count == 1
    assert agent.sum == pytest.approx(_seconds(run_span))
    # The conventions give these histograms no bucket boundaries: none advised.
    assert tuple(agent.explicit_bounds) != DURATION_BUCKETS

    metric, tool = _only(points, semconv.METRIC_EXECUTE_TOOL_DURATION)
    assert (metric.unit, metric.description) == ("s", "The duration of a single tool execution.")
    assert dict(tool.attributes) == {semconv.GEN_AI_TOOL_NAME: "lookup"}
    assert tool.count == 2
    assert tool.sum == pytest.approx(sum(_seconds(s) for s in tool_spans))
    assert (tool.min, tool.max) == (
        pytest.approx(min(map(_seconds, tool_spans))),
        pytest.approx(max(map(_seconds, tool_spans))),
    )
    # The chat call inside the run is still measured as an inference, once.
    assert _only(points, semconv.METRIC_INFERENCE_DURATION)[1].count == 1


def test_failed_and_cancelled_runs_and_tools_carry_error_type(metered: Metered) -> None:
    import asyncio

    with asm.session("agent-errors"):
        with pytest.raises(ValueError), asm.run("failing"):
            explode()

        async def cancelled() -> None:
            async with asm.run("cancelled"):
                await asyncio.sleep(60)

        async def cancel_it() -> None:
            task = asyncio.ensure_future(cancelled())
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancel_it())
    points = metered.points()
    agents = {p.attributes[semconv.GEN_AI_AGENT_NAME]: p for _, p in points[
        semconv.METRIC_INVOKE_AGENT_DURATION
    ]}  # fmt: skip
    assert dict(agents["failing"].attributes)[semconv.ERROR_TYPE] == "ValueError"
    assert dict(agents["cancelled"].attributes)[semconv.ERROR_TYPE] == "CancelledError"
    runs = {
        (s.attributes or {})[semconv.GEN_AI_AGENT_NAME]: s
        for s in _spans_of(metered, semconv.OPERATION_INVOKE_AGENT)
    }
    for name, point in agents.items():
        assert point.sum == pytest.approx(_seconds(runs[name]))
    _, tool = _only(points, semconv.METRIC_EXECUTE_TOOL_DURATION)
    assert dict(tool.attributes) == {
        semconv.GEN_AI_TOOL_NAME: "explode",
        semconv.ERROR_TYPE: "ValueError",
    }


def test_openai_agents_sdk_agent_turns_are_measured(
    clean_otel: None, openai_server: LocalOpenAIServer
) -> None:
    """Each agent turn of an OpenAI Agents SDK run is an invoke_agent span of
    ours, so it is measured like any run."""
    import asyncio

    agents = pytest.importorskip("agents")
    from a2a_session_manager.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    agents.set_trace_processors([])
    agents.set_tracing_disabled(False)
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    handle = asm.configure(
        store=InMemorySessionStore(),
        tracer_provider=provider,
        meter_provider=meters,
        instrument=("openai", "openai_agents"),
    )
    metered = Metered(handle, reader, spans)
    openai_server.queue(Reply("Sunny in Paris."))

    async def main() -> None:
        client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="t", max_retries=0)
        model = agents.OpenAIChatCompletionsModel(MODEL, client)
        agent = agents.Agent(name="weather_agent", instructions="Answer.", model=model)
        config = agents.RunConfig(group_id="agents-metrics", tracing_disabled=False)
        await agents.Runner.run(agent, "Weather in Paris?", run_config=config)
        await client.close()

    try:
        asyncio.run(main())
        (run_span,) = _spans_of(metered, semconv.OPERATION_INVOKE_AGENT)
        _, agent = _only(metered.points(), semconv.METRIC_INVOKE_AGENT_DURATION)
        assert dict(agent.attributes) == {semconv.GEN_AI_AGENT_NAME: "weather_agent"}
        assert agent.sum == pytest.approx(_seconds(run_span))
    finally:
        OpenAIAgentsInstrumentor().uninstrument()
        OpenAIInstrumentor().uninstrument()
        handle.shutdown()
        meters.shutdown()
        provider.shutdown()
        agents.set_tracing_disabled(True)
