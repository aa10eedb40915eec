"""Every span, attribute and event name the product uses, in one place.

Names follow the OpenTelemetry GenAI semantic conventions
(open-telemetry/semantic-conventions-genai); ``session.id`` is the general
session convention; names of our own use the ``a2a_session_manager.`` prefix,
which no registered namespace uses (``a2a.*`` is the conventions' namespace
for the A2A protocol, below). Every other
module imports these constants: none spells an attribute name itself.

Span contract (what the exporter turns into session models)
-----------------------------------------------------------
``invoke_agent {name}``   GEN_AI_OPERATION_NAME="invoke_agent", GEN_AI_AGENT_NAME
                          → a SessionRun whose id is the span id (16 hex chars)
``chat {model}``          GEN_AI_OPERATION_NAME="chat", GEN_AI_PROVIDER_NAME,
                          GEN_AI_REQUEST_MODEL, GEN_AI_RESPONSE_*, GEN_AI_USAGE_*,
                          A2A_USAGE_SOURCE ("provider" | "counted"),
                          GEN_AI_INPUT_MESSAGES / GEN_AI_OUTPUT_MESSAGES (JSON text,
                          the conventions' structured messages, see below),
                          GEN_AI_SYSTEM_INSTRUCTIONS (JSON list of text parts),
                          GEN_AI_TOOL_DEFINITIONS, GEN_AI_REQUEST_* parameters;
                          failed: ERROR_TYPE (qualified class name),
                          HTTP_RESPONSE_STATUS_CODE, A2A_ERROR_MESSAGE;
                          streams ended early: A2A_STREAM_INTERRUPTED
                          → USER/TOOL events for the new input, one LLM event
``execute_tool {name}``   GEN_AI_OPERATION_NAME="execute_tool", GEN_AI_TOOL_NAME,
                          GEN_AI_TOOL_CALL_ID, GEN_AI_TOOL_CALL_ARGUMENTS,
                          GEN_AI_TOOL_CALL_RESULT (JSON text), ERROR_TYPE on failure
                          → a TOOL_CALL event
``session {id}``          A2A_OPERATION_SESSION, SESSION_ID, A2A_SESSION_PARENT_ID,
                          A2A_SESSION_PARENT_LINK (when a remote caller named the parent),
                          A2A_SESSION_CHILD_IDS (children linked from this side),
                          A2A_SESSION_PROPERTIES (JSON) → session metadata / hierarchy
span event A2A_EVENT       A2A_EVENT_* attributes → the SessionEvent as given

Every span started while a session is current also carries SESSION_ID,
GEN_AI_CONVERSATION_ID (the same id) and, inside a run, A2A_RUN_ID; the SDK's
span processor sets them on start, so instrumentations need not know sessions.
Spans recorded under a remote caller's context with no session of this process
land in a local session of their own, and each also carries that session's
A2A_SESSION_PARENT_ID and A2A_SESSION_PARENT_LINK (the caller's claim).

Structured messages (GEN_AI_INPUT_MESSAGES / GEN_AI_OUTPUT_MESSAGES) are a
JSON list of ``{"role": ..., "parts": [...]}`` (no ``finish_reason``: the
conventions deprecated it for GEN_AI_RESPONSE_FINISH_REASONS) with
parts ``{"type": "text", "content": str}``,
``{"type": "tool_call", "id": str, "name": str, "arguments": any}`` and
``{"type": "tool_call_response", "id": str, "response": any}``.
"""

from __future__ import annotations

from typing import Final

# -- GenAI semantic conventions ------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"

GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"

GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"

GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
# Per-modality subsets of the input / output totals, by gen_ai.token.modality value.
GEN_AI_USAGE_INPUT_TOKENS_BY_MODALITY: Final = {
    "text": "gen_ai.usage.text.input_tokens",
    "image": "gen_ai.usage.image.input_tokens",
    "audio": "gen_ai.usage.audio.input_tokens",
}
GEN_AI_USAGE_OUTPUT_TOKENS_BY_MODALITY: Final = {
    "text": "gen_ai.usage.text.output_tokens",
    "image": "gen_ai.usage.image.output_tokens",
    "audio": "gen_ai.usage.audio.output_tokens",
}
GEN_AI_TOKEN_MODALITY: Final = "gen_ai.token.modality"

GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"

GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
# JSON list of ``{"type": "function", "name", "description", "parameters"}``.
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"

# OpenAI-specific names of the conventions' openai registry
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"

SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"

# -- GenAI client metrics (client-inference.md, gen-ai-token-metrics.md) ----
METRIC_INFERENCE_DURATION: Final = "gen_ai.client.inference.duration"
METRIC_INFERENCE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.inference.time_to_first_chunk"
METRIC_USAGE_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.input_tokens"
METRIC_USAGE_OUTPUT_TOKENS: Final = "gen_ai.client.inference.usage.output_tokens"
METRIC_USAGE_CACHE_READ_INPUT_TOKENS: Final = (
    "gen_ai.client.inference.usage.cache_read.input_tokens"
)
METRIC_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = (
    "gen_ai.client.inference.usage.cache_write.input_tokens"
)
METRIC_USAGE_REASONING_OUTPUT_TOKENS: Final = (
    "gen_ai.client.inference.usage.reasoning.output_tokens"
)
METRIC_OPERATION_INPUT_TOKENS: Final = "gen_ai.client.inference.operation.input_tokens"
METRIC_OPERATION_OUTPUT_TOKENS: Final = "gen_ai.client.inference.operation.output_tokens"
# Ours: the estimated cost of inference calls (the conventions define none).
METRIC_COST: Final = "a2a_session_manager.client.inference.cost"
# Agent and tool metrics (gen-ai-metrics.md "agent" and "tool" metrics):
# histograms in ``s`` whose value is the invoke_agent / execute_tool span's duration.
METRIC_INVOKE_AGENT_DURATION: Final = "gen_ai.invoke_agent.duration"
METRIC_EXECUTE_TOOL_DURATION: Final = "gen_ai.execute_tool.duration"

# -- A2A protocol conventions (docs/gen-ai/a2a.md) --------------------------
# ``a2a.*`` is the conventions' namespace for the protocol: the span is named
# by the method (``SendMessage``), kind CLIENT or SERVER, and
# GEN_AI_CONVERSATION_ID holds the A2A ``contextId``.
A2A_PROTOCOL_METHOD_NAME: Final = "a2a.method.name"
A2A_PROTOCOL_MESSAGE_ID: Final = "a2a.message.id"
A2A_PROTOCOL_TASK_ID: Final = "a2a.task.id"
A2A_PROTOCOL_TASK_STATE: Final = "a2a.task.state"  # the TaskState name, TASK_STATE_*
A2A_PROTOCOL_TENANT: Final = "a2a.tenant"
A2A_PROTOCOL_REFERENCE_TASK_IDS: Final = "a2a.message.reference_task_ids"
A2A_PROTOCOL_VERSION: Final = "a2a.protocol.version"
GEN_AI_AGENT_DESCRIPTION: Final = "gen_ai.agent.description"
GEN_AI_AGENT_VERSION: Final = "gen_ai.agent.version"
CLIENT_ADDRESS: Final = "client.address"
CLIENT_PORT: Final = "client.port"
# Values of A2A_PROTOCOL_METHOD_NAME
A2A_METHOD_SEND_MESSAGE: Final = "SendMessage"
A2A_METHOD_SEND_STREAMING_MESSAGE: Final = "SendStreamingMessage"
A2A_METHOD_GET_TASK: Final = "GetTask"
A2A_METHOD_CANCEL_TASK: Final = "CancelTask"
A2A_METHOD_SUBSCRIBE_TO_TASK: Final = "SubscribeToTask"

# Values of GEN_AI_OPERATION_NAME
OPERATION_CHAT: Final = "chat"
OPERATION_INVOKE_AGENT: Final = "invoke_agent"
OPERATION_EXECUTE_TOOL: Final = "execute_tool"
# Ours: the operation of the span that a ``session`` block opens.
OPERATION_SESSION: Final = "a2a_session_manager.session"

# Values of A2A_SESSION_PARENT_LINK (models.ParentLink has the same values)
PARENT_LINK_REMOTE: Final = "remote"
PARENT_LINK_REMOTE_TRUSTED: Final = "remote-trusted"

# Values of GEN_AI_PROVIDER_NAME
PROVIDER_OPENAI: Final = "openai"
PROVIDER_AZURE_OPENAI: Final = "azure.ai.openai"
PROVIDER_ANTHROPIC: Final = "anthropic"
PROVIDER_AWS_BEDROCK: Final = "aws.bedrock"
PROVIDER_GCP_VERTEX_AI: Final = "gcp.vertex_ai"
PROVIDER_GCP_GEMINI: Final = "gcp.gemini"
PROVIDER_MISTRAL_AI: Final = "mistral_ai"
PROVIDER_GROQ: Final = "groq"
PROVIDER_DEEPSEEK: Final = "deepseek"
PROVIDER_X_AI: Final = "x_ai"
PROVIDER_COHERE: Final = "cohere"
PROVIDER_PERPLEXITY: Final = "perplexity"

# Values of GEN_AI_OUTPUT_TYPE
OUTPUT_TYPE_TEXT: Final = "text"
OUTPUT_TYPE_JSON: Final = "json"

# Content types of message parts
PART_TEXT: Final = "text"
PART_TOOL_CALL: Final = "tool_call"
PART_TOOL_CALL_RESPONSE: Final = "tool_call_response"
# A model's reasoning (Anthropic's thinking blocks): ``{"type": "reasoning", "content": str}``.
PART_REASONING: Final = "reasoning"

# -- Names other instrumentations use (read, never written) ---------------
# Older GenAI conventions and OpenLLMetry (traceloop) before it adopted the
# structured messages: ``exporters._foreign_chat`` reads them into the names above.
GEN_AI_SYSTEM: Final = "gen_ai.system"  # the provider, before gen_ai.provider.name
LLM_REQUEST_TYPE: Final = "llm.request.type"  # "chat" marks a chat span
# Indexed messages: {prefix}.{i}.role / .content / .tool_call_id / .finish_reason,
# {prefix}.{i}.tool_calls.{j}.id / .name / .arguments
GEN_AI_PROMPT: Final = "gen_ai.prompt"
GEN_AI_COMPLETION: Final = "gen_ai.completion"
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"
GEN_AI_USAGE_REASONING_TOKENS: Final = "gen_ai.usage.reasoning_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS_OLD: Final = "gen_ai.usage.cache_read_input_tokens"
LLM_USAGE_PROMPT_TOKENS: Final = "llm.usage.prompt_tokens"
LLM_USAGE_COMPLETION_TOKENS: Final = "llm.usage.completion_tokens"
LLM_USAGE_REASONING_TOKENS: Final = "llm.usage.reasoning_tokens"

# -- Session -------------------------------------------------------------
SESSION_ID: Final = "session.id"
# W3C baggage key that carries the session id to other processes.
BAGGAGE_SESSION_ID: Final = "session.id"

# -- Ours (a2a_session_manager.*) ----------------------------------------------------------
A2A_RUN_ID: Final = "a2a_session_manager.run.id"
# On an ``invoke_agent`` span: the enclosing run (its own id is the span id).
A2A_RUN_PARENT_ID: Final = "a2a_session_manager.run.parent_id"
A2A_SESSION_PARENT_ID: Final = "a2a_session_manager.session.parent_id"
# Set when the parent id is a remote caller's claim: one of PARENT_LINK_*.
A2A_SESSION_PARENT_LINK: Final = "a2a_session_manager.session.parent_link"
# On a ``session`` span: children this process linked to it (``ActiveSession.add_child``).
A2A_SESSION_CHILD_IDS: Final = "a2a_session_manager.session.child_ids"
A2A_SESSION_PROPERTIES: Final = "a2a_session_manager.session.properties"
A2A_USAGE_SOURCE: Final = "a2a_session_manager.usage.source"  # "provider" | "counted"
A2A_COST_USD: Final = "a2a_session_manager.usage.cost_usd"
A2A_ERROR_MESSAGE: Final = "a2a_session_manager.error.message"
A2A_RUN_CANCELLED: Final = "a2a_session_manager.run.cancelled"
# On a generator run closed by its caller before its end (it completed, early).
A2A_RUN_CLOSED_EARLY: Final = "a2a_session_manager.run.closed_early"
# On a chat span whose stream ended early: "cut" (by the server) or "abandoned" (by the caller).
A2A_STREAM_INTERRUPTED: Final = "a2a_session_manager.stream.interrupted"
# Values of A2A_STREAM_INTERRUPTED
STREAM_CUT: Final = "cut"
STREAM_ABANDONED: Final = "abandoned"
# On an ``execute_tool`` span: the id of the LLM event that asked for the call,
# when that event was recorded with record_event (the tool processor does).
A2A_TOOL_PARENT_EVENT_ID: Final = "a2a_session_manager.tool.parent_event_id"

# On an A2A span (ours): JSON list of what the call carried, in order: messages
# ``{"kind": "message", "message_id", "role", "parts", "task_id", "context_id",
# "reference_task_ids"}``, task states ``{"kind": "status", "task_id", "state"}``
# and artifacts ``{"kind": "artifact", "task_id", "artifact_id", "name", "parts"}``;
# each with ``time_unix_nano``, when this side saw it.
A2A_EXCHANGE: Final = "a2a_session_manager.a2a.exchange"

# Span event recorded by record_event()
A2A_EVENT: Final = "a2a_session_manager.event"
A2A_EVENT_ID: Final = "a2a_session_manager.event.id"
A2A_EVENT_MESSAGE: Final = "a2a_session_manager.event.message"  # JSON text
A2A_EVENT_SOURCE: Final = "a2a_session_manager.event.source"
A2A_EVENT_TYPE: Final = "a2a_session_manager.event.type"
A2A_EVENT_METADATA: Final = "a2a_session_manager.event.metadata"  # JSON text

# Attributes that hold message content: kept in session stores, sent over
# OTLP only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT allows it.
CONTENT_ATTRIBUTES: Final = frozenset(
    {
        GEN_AI_INPUT_MESSAGES,
        GEN_AI_OUTPUT_MESSAGES,
        GEN_AI_SYSTEM_INSTRUCTIONS,
        GEN_AI_TOOL_CALL_ARGUMENTS,
        GEN_AI_TOOL_CALL_RESULT,
        GEN_AI_TOOL_DEFINITIONS,
        A2A_EVENT_MESSAGE,
        A2A_EXCHANGE,
    }
)

# -- Environment variables -------------------------------------------------
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: Final = (
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
)
