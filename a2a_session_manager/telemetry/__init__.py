"""What the SDK, the exporters and the instrumentations all need, below all
three so that no import runs back up between them: attribute names
(``semconv``), the context keys of the current session and run, the
internal-error guard, JSON helpers and the names of our own tracers."""
