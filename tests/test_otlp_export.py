"""OTLP export: the spans recorded into the session store also reach a real
OTLP/HTTP receiver (Arize Phoenix on 127.0.0.1, tests/support/otlp_receiver.py)
through the standard ``OTLPSpanExporter``: GenAI attributes intact, message
content only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` allows
it, sampling thinning only the collector's share, and a receiver that is down
or broken changing nothing for user code or the store."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import uuid4

import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

import a2a_session_manager as asm
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.models import EventSource, EventType, Session
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall
from tests.support.otel import clean_otel
from tests.support.otlp_receiver import PROJECT_ATTRIBUTE, OtlpReceiver
from tests.support.processes import free_port

__all__ = ["clean_otel"]

MODEL = "gpt-4o-mini"
QUESTION = "What's the weather in Seattle?"
ANSWER = "It is 50 degrees and raining in Seattle."
NOTE = "private note: user lives in Seattle"
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        },
    }
]
ExportedSpans = list[dict[str, Any]]


@asm.tool
def get_weather(location: str) -> dict[str, Any]:
    return {"location": location, "forecast": "rain", "degrees": 50}


@asm.run("weather-agent")
def weather_agent(client: openai.OpenAI) -> str:
    asm.record_event(NOTE)
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    while True:
        reply = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
        message = reply.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            return str(message.content)
        for call in message.tool_calls:
            assert call.type == "function"
            result = get_weather(**json.loads(call.function.arguments))
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
            )


def run_weather_agent(server: LocalOpenAIServer, client: openai.OpenAI, session_id: str) -> None:
    server.queue(
        Reply(tool_calls=[ToolCall("get_weather", {"location": "Seattle, WA"}, id="call_w1")]),
        Reply(ANSWER),
    )
    with asm.session(session_id):
        assert weather_agent(client) == ANSWER


# the spans one weather_agent run produces, by name
AGENT_SPANS = {
    "invoke_agent weather-agent": 1,
    "chat gpt-4o-mini": 2,
    "execute_tool get_weather": 1,
    "a2a_session_manager.event": 1,
}


def has_agent_spans(session_id: str) -> Callable[[ExportedSpans], bool]:
    expected = Counter({**AGENT_SPANS, f"session {session_id}": 1})

    def done(spans: ExportedSpans) -> bool:
        return Counter(s["name"] for s in spans) == expected

    return done


def by_name(spans: ExportedSpans, name: str) -> list[dict[str, Any]]:
    return sorted((s for s in spans if s["name"] == name), key=lambda s: s["start_time"])


def exported_content(spans: ExportedSpans) -> set[str]:
    keys = {k for s in spans for k in s["attributes"]}
    keys |= {k for s in spans for e in s.get("events") or () for k in e["attributes"]}
    return keys & semconv.CONTENT_ATTRIBUTES


@pytest.fixture
def project() -> str:
    """A Phoenix project of this test's own: spans are filed by resource attribute."""
    return f"asm-{uuid4().hex[:12]}"


@pytest.fixture
def no_content_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def openai_instrumented(clean_otel: None, no_content_env: None) -> Iterator[None]:
    yield
    OpenAIInstrumentor().uninstrument()


def configure_for(
    project: str, endpoint: str | None, **kwargs: Any
) -> tuple[InMemorySessionStore, asm.sdk.Handle]:
    store = InMemorySessionStore()
    provider = TracerProvider(resource=Resource.create({PROJECT_ATTRIBUTE: project}), **kwargs)
    handle = asm.configure(
        store=store, tracer_provider=provider, otlp_endpoint=endpoint, instrument=("openai",)
    )
    return store, handle


def assert_store_has_everything(stored: Session | None) -> None:
    """The session store keeps content whatever the OTLP settings say."""
    assert stored is not None
    kinds = [(e.source, e.type) for e in stored.events]
    assert kinds == [
        (EventSource.SYSTEM, EventType.MESSAGE),
        (EventSource.SYSTEM, EventType.INSTRUCTIONS),  # the tool definitions
        (EventSource.USER, EventType.MESSAGE),
        (EventSource.LLM, EventType.MESSAGE),
        (EventSource.TOOL, EventType.TOOL_CALL),
        (EventSource.LLM, EventType.MESSAGE),
    ]
    assert stored.events[0].message == NOTE
    assert [t["name"] for t in stored.events[1].message["tools"]] == ["get_weather"]
    assert stored.events[2].message == QUESTION
    assert stored.events[4].message["arguments"] == {"location": "Seattle, WA"}
    assert stored.events[5].message == ANSWER


@pytest.mark.parametrize("endpoint_form", ["traces-path", "base-url", "base-url-slash"])
def test_same_spans_reach_the_receiver_without_content(
    otlp_receiver: OtlpReceiver,
    openai_instrumented: None,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    project: str,
    endpoint_form: str,
) -> None:
    endpoint = {
        "traces-path": otlp_receiver.endpoint,
        "base-url": otlp_receiver.base_url,
        "base-url-slash": otlp_receiver.base_url + "/",
    }[endpoint_form]
    store, handle = configure_for(project, endpoint)
    run_weather_agent(openai_server, openai_client, "otlp-1")
    assert handle.force_flush()

    spans = otlp_receiver.wait_for_spans(project, has_agent_spans("otlp-1"))
    stored = store.get("otlp-1")
    assert_store_has_everything(stored)
    assert stored is not None

    assert {s["attributes"].get(semconv.SESSION_ID) for s in spans} == {"otlp-1"}
    assert len({s["context"]["trace_id"] for s in spans}) == 1
    (agent,) = by_name(spans, "invoke_agent weather-agent")
    assert agent["attributes"][semconv.GEN_AI_OPERATION_NAME] == "invoke_agent"
    assert agent["attributes"][semconv.GEN_AI_AGENT_NAME] == "weather-agent"
    assert [r.id for r in stored.runs] == [agent["context"]["span_id"]]

    chats = by_name(spans, "chat gpt-4o-mini")
    llm_events = [e for e in stored.events if e.source is EventSource.LLM]
    for chat, event in zip(chats, llm_events, strict=True):
        attrs = chat["attributes"]
        assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
        assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
        assert attrs[semconv.GEN_AI_REQUEST_MODEL] == MODEL
        assert attrs[semconv.A2A_RUN_ID] == agent["context"]["span_id"]
        assert event.token_usage is not None
        assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == event.token_usage.prompt_tokens
        assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == event.token_usage.completion_tokens
        assert chat["span_kind"] == "LLM"  # the receiver reads the conventions too

    (tool,) = by_name(spans, "execute_tool get_weather")
    assert tool["attributes"][semconv.GEN_AI_TOOL_NAME] == "get_weather"
    assert tool["attributes"][semconv.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert tool["parent_id"] == agent["context"]["span_id"]

    # no message content left the process, under any attribute name
    assert exported_content(spans) == set()
    text = json.dumps(spans)
    for secret in (QUESTION, ANSWER, NOTE, "Seattle"):
        assert secret not in text
    (event_span,) = by_name(spans, "a2a_session_manager.event")
    (event,) = event_span["events"]
    assert event["attributes"][semconv.A2A_EVENT_SOURCE] == "system"


def test_content_is_exported_when_the_environment_allows_it(
    otlp_receiver: OtlpReceiver,
    openai_instrumented: None,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, "SPAN_ONLY")
    store, handle = configure_for(project, otlp_receiver.endpoint)
    run_weather_agent(openai_server, openai_client, "otlp-content")
    assert handle.force_flush()

    spans = otlp_receiver.wait_for_spans(project, has_agent_spans("otlp-content"))
    assert_store_has_everything(store.get("otlp-content"))
    first_chat = by_name(spans, "chat gpt-4o-mini")[0]["attributes"]
    inputs = json.loads(first_chat[semconv.GEN_AI_INPUT_MESSAGES])
    assert inputs[-1]["role"] == "user"
    assert inputs[-1]["parts"][0]["content"] == QUESTION
    (tool,) = by_name(spans, "execute_tool get_weather")
    assert json.loads(tool["attributes"][semconv.GEN_AI_TOOL_CALL_ARGUMENTS]) == {
        "location": "Seattle, WA"
    }
    assert json.loads(tool["attributes"][semconv.GEN_AI_TOOL_CALL_RESULT])["forecast"] == "rain"
    (event_span,) = by_name(spans, "a2a_session_manager.event")
    (event,) = event_span["events"]
    assert json.loads(event["attributes"][semconv.A2A_EVENT_MESSAGE]) == NOTE


def test_capture_content_false_keeps_content_out_of_the_export_too(
    otlp_receiver: OtlpReceiver,
    openai_instrumented: None,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The application's ``capture_content=False`` wins over the environment."""
    monkeypatch.setenv(semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, "SPAN_ONLY")
    store = InMemorySessionStore()
    provider = TracerProvider(resource=Resource.create({PROJECT_ATTRIBUTE: project}))
    handle = asm.configure(
        store=store,
        tracer_provider=provider,
        otlp_endpoint=otlp_receiver.endpoint,
        instrument=("openai",),
        capture_content=False,
    )
    run_weather_agent(openai_server, openai_client, "otlp-no-capture")
    assert handle.force_flush()

    spans = otlp_receiver.wait_for_spans(project, has_agent_spans("otlp-no-capture"))
    assert not exported_content(spans)
    assert QUESTION not in json.dumps(spans) and ANSWER not in json.dumps(spans)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("Seattle", "[city]")
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    return value


def test_redaction_hook_sees_every_exported_message(
    otlp_receiver: OtlpReceiver,
    openai_instrumented: None,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, "SPAN_ONLY")
    seen_roles: list[str] = []

    seen_shapes: set[tuple[str, ...]] = set()

    def redact(message: dict[str, Any]) -> dict[str, Any]:
        seen_roles.append(str(message.get("role")))
        seen_shapes.add(tuple(sorted(message)))
        scrubbed: dict[str, Any] = _scrub(message)
        return scrubbed

    store = InMemorySessionStore()
    provider = TracerProvider(resource=Resource.create({PROJECT_ATTRIBUTE: project}))
    handle = asm.configure(
        store=store,
        tracer_provider=provider,
        otlp_endpoint=otlp_receiver.endpoint,
        instrument=("openai",),
        redact=redact,
    )
    run_weather_agent(openai_server, openai_client, "otlp-redacted")
    assert handle.force_flush()

    spans = otlp_receiver.wait_for_spans(project, has_agent_spans("otlp-redacted"))
    assert exported_content(spans)  # content is exported, redacted
    assert "Seattle" not in json.dumps(spans)
    (event_span,) = by_name(spans, "a2a_session_manager.event")
    (event,) = event_span["events"]
    assert json.loads(event["attributes"][semconv.A2A_EVENT_MESSAGE]) == _scrub(NOTE)
    assert "system" in seen_roles  # the event's own source, as the store's hook sees it
    # One shape for every payload, exported or stored: {"role", "content"}.
    assert seen_shapes == {("content", "role")}
    stored = store.get("otlp-redacted")
    assert stored is not None and stored.events[0].message == _scrub(NOTE)


def test_configure_again_turns_export_on_and_updates_redaction(
    otlp_receiver: OtlpReceiver,
    clean_otel: None,
    no_content_env: None,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, "SPAN_ONLY")
    provider = TracerProvider(resource=Resource.create({PROJECT_ATTRIBUTE: project}))
    store = InMemorySessionStore()
    handle = asm.configure(store=store, tracer_provider=provider)
    try:
        assert handle.otlp_processor is None
        with asm.session("before-otlp"), asm.run("agent"):
            asm.record_event("not exported")
        again = asm.configure(
            store=store, tracer_provider=provider, otlp_endpoint=otlp_receiver.endpoint
        )
        assert again is handle and handle.otlp_processor is not None
        with asm.session("plain"), asm.run("agent"):
            asm.record_event("Seattle plain")
        asm.configure(store=store, tracer_provider=provider, redact=_scrub)  # export stays on
        with asm.session("scrubbed"), asm.run("agent"):
            asm.record_event("Seattle scrubbed")
        assert handle.force_flush()
    finally:
        handle.shutdown()
    spans = otlp_receiver.wait_for_spans(project, lambda s: len(s) == 6)
    assert {s["attributes"][semconv.SESSION_ID] for s in spans} == {"plain", "scrubbed"}
    messages = {
        s["attributes"][semconv.SESSION_ID]: json.loads(
            s["events"][0]["attributes"][semconv.A2A_EVENT_MESSAGE]
        )
        for s in by_name(spans, "a2a_session_manager.event")
    }
    assert messages == {"plain": "Seattle plain", "scrubbed": "[city] scrubbed"}
    assert [s["name"] for s in send_marker(otlp_receiver, project) if "before" in s["name"]] == []
    stored = store.get("before-otlp")
    assert stored is not None and stored.events[0].message == "not exported"


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
)
def test_otel_environment_variables_turn_on_export(
    otlp_receiver: OtlpReceiver,
    clean_otel: None,
    no_content_env: None,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    # the generic variable names the collector; the traces one the full URL
    value = otlp_receiver.base_url if variable.endswith("OTLP_ENDPOINT") else otlp_receiver.endpoint
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"{PROJECT_ATTRIBUTE}={project}")
    store = InMemorySessionStore()
    handle = asm.configure(store=store)  # no otlp_endpoint, no provider: all from the env
    try:
        assert handle.otlp_processor is not None
        with asm.session("from-env"), asm.run("env-agent"):
            assert get_weather("Oslo")["forecast"] == "rain"
        assert handle.force_flush()
        spans = otlp_receiver.wait_for_spans(project, lambda s: len(s) == 3)
    finally:
        handle.shutdown()
    assert sorted(s["name"] for s in spans) == [
        "execute_tool get_weather",
        "invoke_agent env-agent",
        "session from-env",
    ]
    assert {s["attributes"][semconv.SESSION_ID] for s in spans} == {"from-env"}
    assert exported_content(spans) == set()
    stored = store.get("from-env")
    assert stored is not None
    assert [e.message["arguments"] for e in stored.events] == [{"location": "Oslo"}]


def send_marker(receiver: OtlpReceiver, project: str) -> list[dict[str, Any]]:
    """Send one span on a connection of its own and wait until the receiver has
    it: whatever the code under test exported before is in by then."""
    provider = TracerProvider(
        sampler=ALWAYS_ON, resource=Resource.create({PROJECT_ATTRIBUTE: project})
    )
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=receiver.endpoint)))
    provider.get_tracer("marker").start_span("marker").end()
    provider.shutdown()
    return receiver.wait_for_spans(project, lambda s: "marker" in {x["name"] for x in s})


@pytest.mark.parametrize("how", ["traceidratio-0-env", "always-off-provider"])
def test_sampling_thins_only_what_reaches_the_collector(
    otlp_receiver: OtlpReceiver,
    clean_otel: None,
    no_content_env: None,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    store = InMemorySessionStore()
    if how == "traceidratio-0-env":
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"{PROJECT_ATTRIBUTE}={project}")
        handle = asm.configure(store=store, otlp_endpoint=otlp_receiver.endpoint)
    else:
        provider = TracerProvider(
            sampler=ALWAYS_OFF, resource=Resource.create({PROJECT_ATTRIBUTE: project})
        )
        handle = asm.configure(
            store=store, tracer_provider=provider, otlp_endpoint=otlp_receiver.endpoint
        )
    try:
        for n in range(3):
            with asm.session(f"sampled-out-{n}"), asm.run("agent"):
                get_weather("Oslo")
                asm.record_event(f"kept {n}")
        assert handle.force_flush()
    finally:
        handle.shutdown()
    assert [s["name"] for s in send_marker(otlp_receiver, project)] == ["marker"]
    for n in range(3):
        stored = store.get(f"sampled-out-{n}")
        assert stored is not None and len(stored.runs) == 1
        assert [e.type for e in stored.events] == [EventType.TOOL_CALL, EventType.MESSAGE]
        assert stored.events[1].message == f"kept {n}"


# -- receivers that are down or broken ------------------------------------------


class _BrokenReceiver(BaseHTTPRequestHandler):
    """Answers every export with an error status and a body that is not OTLP."""

    status = 500

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b"\xff\xfenot protobuf {"
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def broken_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    kind: str = request.param
    if kind == "refused":
        yield f"http://127.0.0.1:{free_port()}/v1/traces"  # nothing listens there
        return
    handler = type("Handler", (_BrokenReceiver,), {"status": 500 if kind == "http-500" else 400})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("broken_endpoint", ["refused", "http-500", "http-400"], indirect=True)
def test_receiver_down_changes_nothing_for_user_code_or_store(
    broken_endpoint: str,
    clean_otel: None,
    no_content_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # keep the exporter's retries short: this test waits for its flush
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")
    store = InMemorySessionStore()
    handle = asm.configure(
        store=store, tracer_provider=TracerProvider(), otlp_endpoint=broken_endpoint
    )
    error = ValueError("user failure")

    @asm.run("failing")
    def failing() -> None:
        raise error

    try:
        with asm.session("offline"):
            with asm.run("agent"):
                assert get_weather("Oslo")["degrees"] == 50
                asm.record_event("still recorded")
            with pytest.raises(ValueError) as raised:
                failing()
            assert raised.value is error
        stored = store.get("offline")  # read-your-writes, whatever OTLP is doing
        assert stored is not None
        assert [e.type for e in stored.events] == [EventType.TOOL_CALL, EventType.MESSAGE]
        assert [(r.name, r.status.value) for r in stored.runs] == [
            ("agent", "completed"),
            ("failing", "failed"),
        ]
        assert isinstance(handle.force_flush(), bool)  # reports, never raises
    finally:
        handle.shutdown()
    assert handle.stats()["dropped_spans"] == 0
