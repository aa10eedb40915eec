"""Exact, offline token counting and the model price table."""

from a2a_session_manager.tokens._warm_up import warm_up
from a2a_session_manager.tokens.counting import (
    count_chat_tokens,
    count_message_tokens,
    count_tokens,
)
from a2a_session_manager.tokens.encodings import (
    EncodingUnavailableError,
    encoding_for_model,
    encoding_name_for_model,
    get_encoding,
)
from a2a_session_manager.tokens.pricing import (
    PRICES_AS_OF,
    ModelPrice,
    estimate_cost,
    known_models,
    price_for_model,
    set_model_price,
)

__all__ = [
    "PRICES_AS_OF",
    "EncodingUnavailableError",
    "ModelPrice",
    "count_chat_tokens",
    "count_message_tokens",
    "count_tokens",
    "encoding_for_model",
    "encoding_name_for_model",
    "estimate_cost",
    "get_encoding",
    "known_models",
    "price_for_model",
    "set_model_price",
    "warm_up",
]
