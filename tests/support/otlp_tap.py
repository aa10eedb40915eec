"""An OTLP/HTTP endpoint in front of a real receiver that counts deliveries.

Phoenix (tests/support/otlp_receiver.py) keeps one row per span id, so a span
exported twice shows there once. :class:`OtlpTap` decodes every export
request it gets (``ExportTraceServiceRequest``, protobuf, optionally gzip),
counts each span it carries, then forwards the request unchanged to the
receiver and answers with the receiver's reply.
"""

from __future__ import annotations

import gzip
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class OtlpTap:
    """``with OtlpTap(receiver_endpoint) as tap:``; export to ``tap.base_url``."""

    __test__ = False

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self._deliveries: Counter[tuple[str, str]] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def deliveries(self) -> Counter[tuple[str, str]]:
        """How many times each ``(span name, span id)`` arrived so far."""
        with self._lock:
            return Counter(self._deliveries)

    def _count(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        with self._lock:
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self._deliveries[(span.name, span.span_id.hex())] += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        tap = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                tap._count(gzip.decompress(body) if encoding == "gzip" else body)
                forward = urllib.request.Request(
                    tap.upstream,
                    data=body,
                    method="POST",
                    headers={
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() in ("content-type", "content-encoding")
                    },
                )
                try:
                    with urllib.request.urlopen(forward, timeout=30) as reply:
                        status, answer = reply.status, reply.read()
                except urllib.error.HTTPError as exc:
                    status, answer = exc.code, exc.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> OtlpTap:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def running_tap(upstream: str) -> Iterator[OtlpTap]:
    """A tap for a fixture: ``yield from running_tap(receiver.endpoint)``."""
    with OtlpTap(upstream) as tap:
        yield tap
