"""Sessions with no code change: ``opentelemetry-instrument python app.py``.

``opentelemetry-instrument`` loads the distro and configurators (for example
``opentelemetry-distro``'s, which set up the SDK from the ``OTEL_*``
variables), then every ``opentelemetry_instrumentor`` entry point (ours among
them), then every ``opentelemetry_post_instrument`` entry point: this hook.
It calls ``configure()``, which attaches session recording to the provider
set up by then (or makes one, with OTLP export when an ``OTEL_EXPORTER_OTLP_*``
endpoint is set) and records into the store ``A2A_SESSIONS_STORE`` names.

A post-instrument hook rather than a distro or configurator of our own: only
one distro and one configurator run, so ours would shadow
``opentelemetry-distro``'s when both are installed.
"""

from __future__ import annotations

from a2a_session_manager.sdk._configure import configure
from a2a_session_manager.telemetry._guard import internal_errors


def record_sessions() -> None:
    """The ``opentelemetry_post_instrument`` hook."""
    with internal_errors("setting up session recording for opentelemetry-instrument"):
        configure()
