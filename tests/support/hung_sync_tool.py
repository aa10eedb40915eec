"""Child process for the tool processor tests: one sync tool that never
returns, called with a short timeout, then the script simply ends.

    python tests/support/hung_sync_tool.py TIMEOUT_SECONDS

Prints the call's result as JSON (``error_type`` is ``ToolTimeoutError``).
The interpreter must then exit on its own: the hung tool's thread may not
keep it alive.
"""

from __future__ import annotations

import asyncio
import sys
import threading

from a2a_session_manager.session_aware_tool_processor import SessionAwareToolProcessor

NEVER = threading.Event()


def hangs_forever() -> str:
    NEVER.wait()
    return "unreachable"


async def main(timeout: float) -> None:
    processor = SessionAwareToolProcessor(
        "hung-tool-process", tools={"hangs_forever": hangs_forever}, timeout=timeout
    )
    message = {
        "role": "assistant",
        "tool_calls": [{"type": "function", "function": {"name": "hangs_forever"}}],
    }
    (result,) = await processor.process_llm_message(message)
    print(result.model_dump_json(include={"tool", "error_type", "error"}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))
