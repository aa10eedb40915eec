"""Shipping the same spans to an OpenTelemetry collector over OTLP/HTTP.

This example starts a minimal but real OTLP/HTTP trace receiver on
127.0.0.1 (it decodes ``ExportTraceServiceRequest`` protobuf bodies, as a
collector does), then runs a small instrumented agent twice, each time in a
fresh process configured with ``asm.configure(otlp_endpoint=...)``:

1. with the default settings: spans reach the collector *without* message
   content (prompts, replies, tool arguments and results stay home);
2. with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY``: the
   collector gets the content too.

Either way the session store (the application's own memory) keeps the
content. Needs the ``[otlp]`` and ``[openai]`` extras; no network.

    python examples/otlp_export.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from a2a_session_manager.telemetry import semconv

MODEL = "gpt-4o-mini"
SESSION_ID = "otlp-demo"
SHOWN_ATTRIBUTES = (
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_AGENT_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_TOOL_NAME,
    semconv.SESSION_ID,
)


# -- a minimal OTLP/HTTP receiver ---------------------------------------------


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    service: str
    attributes: dict[str, Any]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def decode_spans(body: bytes) -> Iterator[ReceivedSpan]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {kv.key: _value(kv.value) for kv in span.attributes}
                yield ReceivedSpan(span.name, service, attributes)


class OtlpReceiver:
    """``POST /v1/traces`` with protobuf bodies (plain, gzip or deflate)."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                try:
                    if self.path != "/v1/traces":
                        raise LookupError(self.path)
                    if encoding == "gzip":
                        body = gzip.decompress(body)
                    elif encoding == "deflate":
                        body = zlib.decompress(body)
                    spans = list(decode_spans(body))
                except LookupError:
                    self.send_error(404)
                    return
                except Exception as exc:  # a body we cannot decode: tell the exporter
                    self.send_error(400, f"cannot decode the request: {exc}")
                    return
                with receiver._lock:
                    receiver.spans.extend(spans)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def take(self) -> list[ReceivedSpan]:
        with self._lock:
            spans, self.spans = self.spans, []
        return spans


# -- the agent, run in its own process ----------------------------------------


def run_agent(endpoint: str) -> None:
    """A run with one chat call asking for a tool, the tool, and the answer."""
    import openai

    import a2a_session_manager as asm
    from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall

    handle = asm.configure(otlp_endpoint=endpoint, instrument=("openai",))

    @asm.tool
    def lookup_order(order_id: str) -> dict[str, str]:
        return {"order_id": order_id, "status": "shipped"}

    with LocalOpenAIServer() as llm:
        llm.queue(
            Reply(tool_calls=[ToolCall("lookup_order", {"order_id": "A-1001"})]),
            Reply("Your order A-1001 has shipped."),
        )
        client = openai.OpenAI(base_url=llm.base_url, api_key="local", max_retries=0)
        messages: list[Any] = [{"role": "user", "content": "Where is my order A-1001?"}]
        with asm.session(SESSION_ID), asm.run("support-agent"):
            first = client.chat.completions.create(model=MODEL, messages=messages)
            asked = first.choices[0].message
            messages.append(asked.model_dump(exclude_none=True))
            for call in asked.tool_calls or []:
                if call.type == "function":
                    result = lookup_order(**json.loads(call.function.arguments))
                    messages.append(
                        {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
                    )
            client.chat.completions.create(model=MODEL, messages=messages)
    handle.force_flush()  # the collector has every span once this returns

    session = asm.SessionStoreProvider.get_store().get(SESSION_ID)
    assert session is not None
    texts = [str(e.message) for e in session.events]
    print(f"  session store: {len(session.events)} events, content kept: {texts[0]!r}")


# -- the walkthrough ----------------------------------------------------------


def _part(part: Any) -> str:
    if not isinstance(part, dict):
        return str(part)
    kind = part.get("type")
    if kind == "text":
        return json.dumps(part.get("content"), ensure_ascii=False)
    if kind == "tool_call":
        return f"tool_call {part.get('name')}({json.dumps(part.get('arguments'))})"
    if kind == "tool_call_response":
        response = part.get("response")
        shown = response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
        return f"tool_call_response {shown}"
    return json.dumps(part, ensure_ascii=False)


def readable(value: Any) -> str:
    """A content attribute shortened for the terminal: the structured messages
    (``[{"role", "parts": [...]}]``) as ``role: part, part`` lines."""
    try:
        messages = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    if isinstance(messages, list) and all(isinstance(m, dict) and "parts" in m for m in messages):
        return " | ".join(
            f"{m.get('role')}: {', '.join(_part(p) for p in m['parts'])}" for m in messages
        )
    return json.dumps(messages, ensure_ascii=False)


def show(spans: list[ReceivedSpan]) -> None:
    for span in spans:
        shown = {k: span.attributes[k] for k in SHOWN_ATTRIBUTES if k in span.attributes}
        print(f"  span {span.name!r} (service {span.service}) {shown}")
        for key in sorted(semconv.CONTENT_ATTRIBUTES & span.attributes.keys()):
            print(f"      content {key} = {readable(span.attributes[key])}")
    content = sum(len(semconv.CONTENT_ATTRIBUTES & s.attributes.keys()) for s in spans)
    print(f"  => {len(spans)} spans received, {content} content attributes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agent", metavar="ENDPOINT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.agent:
        run_agent(args.agent)
        return

    with OtlpReceiver() as receiver:
        print(f"OTLP/HTTP receiver on {receiver.endpoint}")
        for capture in ("", "SPAN_ONLY"):
            env = {**os.environ, "OTEL_SERVICE_NAME": "otlp-example"}
            env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
            env.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
            env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = capture
            print(f"\nOTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT={capture or '(unset)'}")
            subprocess.run(
                [sys.executable, __file__, "--agent", receiver.endpoint],
                env=env,
                check=True,
                timeout=120,
            )
            show(receiver.take())


if __name__ == "__main__":
    main()
