#!/usr/bin/env bash
# One venv per peer (their pins conflict). Usage: bash benchmarks/peers/install.sh [DIR]
set -euo pipefail
DIR=${1:-/tmp/peers}
mkdir -p "$DIR" && cd "$DIR"
for v in otelv2 otelanthropic openinference logfire langfuse openllmetry seed; do python3 -m venv $v; done
seed/bin/pip install -q "a2a-session-manager==0.1.3"  # the original library, for bench_storage
otelv2/bin/pip install -q opentelemetry-instrumentation-openai-v2 opentelemetry-sdk openai httpx "opentelemetry-util-genai==1.1b0"
# The official Anthropic instrumentation needs a newer opentelemetry-util-genai
# than openai-v2 2.4b0 imports, hence a venv of its own.
otelanthropic/bin/pip install -q --pre opentelemetry-instrumentation-genai-anthropic opentelemetry-sdk anthropic
openinference/bin/pip install -q openinference-instrumentation-openai openinference-instrumentation-anthropic opentelemetry-sdk openai anthropic
logfire/bin/pip install -q logfire openai anthropic
langfuse/bin/pip install -q langfuse openai
openllmetry/bin/pip install -q --no-deps traceloop-sdk==0.62.4
openllmetry/bin/pip install -q "opentelemetry-api>=1.38" "opentelemetry-sdk>=1.38" "opentelemetry-exporter-otlp-proto-http>=1.38" "opentelemetry-exporter-otlp-proto-grpc>=1.38" "opentelemetry-semantic-conventions-ai<0.6,>=0.5.1" aiohttp colorama cuid deprecated jinja2 tenacity pydantic "opentelemetry-instrumentation-openai==0.62.4" opentelemetry-instrumentation-logging opentelemetry-instrumentation-threading openai httpx "opentelemetry-instrumentation-anthropic==0.62.4" anthropic
echo "peers installed in $DIR"
