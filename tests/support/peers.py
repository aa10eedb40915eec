"""pytest plugin: other OpenAI instrumentations beside ours, installed in a
chosen order into the ``recorder``'s provider and removed after the test.

Fixture ``install``: ``install("official" | "openllmetry" | "ours")`` instruments
one of them with ``recorder.provider``; the last one installed is the outermost
wrapper of the client's methods. After the test they are uninstrumented in
reverse order (wrapt's ``unwrap`` removes the outermost wrapper, whoever made
it), then every method of the client's resource classes is put back as it was:
OpenLLMetry's ``uninstrument`` (0.62.4) is a no-op, since it passes
``unwrap`` a dotted path it cannot resolve.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from tests.support.otel import Recorder

Install = Callable[[str], Any]


def _resource_methods() -> dict[tuple[type, str], Any]:
    import openai  # noqa: F401  - its resource modules are what gets patched

    saved: dict[tuple[type, str], Any] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("openai.resources") or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == name:
                for attr, member in vars(value).items():
                    if callable(member):
                        saved[(value, attr)] = member
    return saved


def _new(kind: str) -> Any:
    if kind == "official":
        from opentelemetry.instrumentation.openai_v2 import (
            OpenAIInstrumentor as OfficialInstrumentor,
        )

        return OfficialInstrumentor()
    if kind == "openllmetry":
        from opentelemetry.instrumentation.openai import (
            OpenAIInstrumentor as OpenLLMetryInstrumentor,
        )

        return OpenLLMetryInstrumentor()
    if kind == "ours":
        return OpenAIInstrumentor()
    raise ValueError(kind)


@pytest.fixture
def install(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    # The official instrumentation puts messages on its spans only in these modes.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
    saved = _resource_methods()
    installed: list[Any] = []

    def do_install(kind: str) -> Any:
        instrumentor = _new(kind)
        instrumentor.instrument(tracer_provider=recorder.provider)
        installed.append(instrumentor)
        return instrumentor

    yield do_install
    for instrumentor in reversed(installed):
        instrumentor.uninstrument()
    for (cls, attr), member in saved.items():
        if vars(cls).get(attr) is not member:
            setattr(cls, attr, member)
