"""Where LiteLLM sends a call: the provider (the conventions' name) and model.

``litellm.get_llm_provider`` is LiteLLM's own routing (the ``provider/`` prefix
of the model, ``custom_llm_provider=``, a known ``api_base``), so the span
names the provider the call really goes to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import litellm

from a2a_session_manager.telemetry import semconv

# LiteLLM's provider names → the conventions' values; others are kept as LiteLLM names them.
_PROVIDERS: dict[str, str] = {
    "openai": semconv.PROVIDER_OPENAI,
    "text-completion-openai": semconv.PROVIDER_OPENAI,
    "azure": semconv.PROVIDER_AZURE_OPENAI,
    "azure_text": semconv.PROVIDER_AZURE_OPENAI,
    "anthropic": semconv.PROVIDER_ANTHROPIC,
    "bedrock": semconv.PROVIDER_AWS_BEDROCK,
    "vertex_ai": semconv.PROVIDER_GCP_VERTEX_AI,
    "vertex_ai_beta": semconv.PROVIDER_GCP_VERTEX_AI,
    "gemini": semconv.PROVIDER_GCP_GEMINI,
    "mistral": semconv.PROVIDER_MISTRAL_AI,
    "groq": semconv.PROVIDER_GROQ,
    "deepseek": semconv.PROVIDER_DEEPSEEK,
    "xai": semconv.PROVIDER_X_AI,
    "cohere": semconv.PROVIDER_COHERE,
    "cohere_chat": semconv.PROVIDER_COHERE,
    "perplexity": semconv.PROVIDER_PERPLEXITY,
}


def routing_attributes(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Operation, provider, routed model and server of the call ``kwargs`` describe."""
    model = kwargs.get("model")
    attributes: dict[str, Any] = {semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_CHAT}
    if not isinstance(model, str):
        return attributes
    api_base = kwargs.get("api_base") or kwargs.get("base_url")
    routed_model, provider = _route(model, kwargs.get("custom_llm_provider"), api_base)
    attributes[semconv.GEN_AI_REQUEST_MODEL] = routed_model
    if isinstance(provider, str) and provider:
        attributes[semconv.GEN_AI_PROVIDER_NAME] = _PROVIDERS.get(provider, provider)
    if isinstance(api_base, str):
        attributes.update(_server(api_base))
    return attributes


def _route(model: str, provider: Any, api_base: Any) -> tuple[str, Any]:
    try:
        routed_model, provider, _, _ = litellm.get_llm_provider(
            model=model,
            custom_llm_provider=provider,
            api_base=api_base if isinstance(api_base, str) else None,
        )
        return routed_model, provider
    except Exception:
        # A provider LiteLLM does not know (yet: custom providers are registered
        # when the call starts); the call itself says whether it is wrong.
        if isinstance(provider, str):
            return model, provider
        prefix, _, rest = model.partition("/")
        return (rest, prefix) if rest else (model, None)


def _server(api_base: str) -> dict[str, Any]:
    parts = urlsplit(api_base)
    if not parts.hostname:
        return {}
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {semconv.SERVER_ADDRESS: parts.hostname, semconv.SERVER_PORT: port}
