"""What our client instrumentors (openai, anthropic, litellm) share: an
optional package checked before wrapping, a tracer of their own, and the move
to a new ``tracer_provider`` when ``configure()`` is given one."""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from a2a_session_manager.telemetry._tracers import chat_tracer_name

logger = logging.getLogger(__name__)

try:
    VERSION = version("a2a-session-manager")
except PackageNotFoundError:  # running from a source tree
    VERSION = "0.0.0"


def present(module_name: str, class_name: str, method: str) -> bool:
    """Whether the installed client has ``module_name.class_name.method``."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    return callable(getattr(getattr(module, class_name, None), method, None))


class ClientInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """``BaseInstrumentor`` for an optional client package (``package``)."""

    package: ClassVar[str]
    _tracer_provider: Any = None

    def instrument(self, **kwargs: Any) -> Any:
        """Wrap the client; again with the same arguments, a no-op.

        Given a different explicit ``tracer_provider`` (``configure()`` with a new
        provider), the wrappers move to it instead of recording into the old one.
        """
        try:
            importlib.import_module(self.package)
        except ImportError:
            logger.warning(
                "%s is not installed: %s.instrument() does nothing",
                self.package,
                type(self).__name__,
            )
            return None
        provider = kwargs.get("tracer_provider")
        if (
            self.is_instrumented_by_opentelemetry
            and provider is not None
            and provider is not self._tracer_provider
        ):
            self.uninstrument()
        return super().instrument(**kwargs)

    def _tracer(self, kwargs: dict[str, Any]) -> trace.Tracer:
        """The tracer of this instrumentation, on the provider it was given."""
        self._tracer_provider = kwargs.get("tracer_provider")
        return trace.get_tracer(
            chat_tracer_name(self.package),
            VERSION,
            tracer_provider=self._tracer_provider,
        )
