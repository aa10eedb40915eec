"""Run the local OpenAI-compatible server in the foreground (for demos)::

    python -m a2a_session_manager.testing [--port 8000]

It prints its ``base_url`` and answers every request with the default reply
until interrupted (Ctrl-C). Point any OpenAI client at it with
``OPENAI_BASE_URL=<base_url> OPENAI_API_KEY=test``.
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from a2a_session_manager.testing._openai_server import LocalOpenAIServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m a2a_session_manager.testing")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    args = parser.parse_args(argv)
    with LocalOpenAIServer(port=args.port) as server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop it
            threading.Event().wait()


if __name__ == "__main__":
    main()
