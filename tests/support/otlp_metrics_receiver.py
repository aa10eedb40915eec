"""A real OTLP/HTTP metrics receiver on 127.0.0.1 (pytest plugin).

Phoenix, the tests' trace receiver, takes no metrics. This one is an HTTP
server that accepts ``POST /v1/metrics`` as a collector does (protobuf
``ExportMetricsServiceRequest``, gzip or not), decodes each request with the
OTLP protobuf definitions and keeps the data points.

Fixture ``otlp_metrics_receiver``: an :class:`OtlpMetricsReceiver` with
``endpoint`` (its base URL) and ``metrics()`` (name -> list of
``(unit, point)`` with points as ``MessageToDict`` gives them).
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)


class OtlpMetricsReceiver:
    __test__ = False

    def __init__(self) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if self.path != "/v1/metrics":
                    self.send_error(404)
                    return
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                with receiver._lock:
                    receiver.requests.append(request)
                answer = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def metrics(self) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        with self._lock:
            requests = list(self.requests)
        for request in requests:
            for resource in request.resource_metrics:
                for scope in resource.scope_metrics:
                    for metric in scope.metrics:
                        data = MessageToDict(metric)
                        kind = next(k for k in ("sum", "histogram", "gauge") if k in data)
                        for point in data[kind].get("dataPoints", []):
                            out.setdefault(metric.name, []).append((metric.unit, point))
        return out


@pytest.fixture
def otlp_metrics_receiver() -> Iterator[OtlpMetricsReceiver]:
    receiver = OtlpMetricsReceiver()
    receiver.start()
    yield receiver
    receiver.stop()
