"""What the first count and the first price need is loaded off the caller's
thread: ``configure`` builds today's encoding (o200k_base) and loads
genai-prices in a background thread; the legacy cl100k_base is built when
first needed (it holds about 30 MiB), in a thread of its own while the
first counts are counted in Python; a count racing a build waits for it (one
build per encoding, never two)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import pytest

from a2a_session_manager.tokens import encodings

SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    from a2a_session_manager.tokens import encodings
    built_on = []
    original = encodings._build
    def spy(name):
        built_on.append((name, threading.current_thread().name))
        return original(name)
    encodings._build = spy
    import a2a_session_manager as asm
    from a2a_session_manager.storage import InMemorySessionStore
    asm.configure(store=InMemorySessionStore())
    for thread in threading.enumerate():
        if thread.name == "a2a-warm-up":
            thread.join(120)
    from a2a_session_manager.tokens import count_tokens
    count = count_tokens("hello world", "gpt-4o-mini") + count_tokens("hello world", "gpt-4")
    for thread in threading.enumerate():
        if thread.name == "a2a-tokens-cl100k_base":
            thread.join(120)
    print(json.dumps({"built_on": built_on, "count": count,
                      "prices": "genai_prices" in sys.modules}))
    """
)


def test_configure_builds_todays_encoding_and_loads_prices_in_the_background() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["built_on"] == [
        ["o200k_base", "a2a-warm-up"],
        ["cl100k_base", "a2a-tokens-cl100k_base"],  # gpt-4's count: on first use
    ]
    assert result["count"] == 4  # "hello world" is 2 tokens in both encodings
    assert result["prices"] is True


def test_concurrent_first_counts_share_one_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encodings, "_built", {})
    builds: list[str] = []
    original = encodings._build

    def counted(name: str) -> object:
        builds.append(name)
        return original(name)

    monkeypatch.setattr(encodings, "_build", counted)
    start = threading.Barrier(4)
    got: list[object] = []

    def first_count() -> None:
        start.wait()
        got.append(encodings.get_encoding("cl100k_base"))

    threads = [threading.Thread(target=first_count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert builds == ["cl100k_base"]
    assert len(got) == 4 and all(g is got[0] for g in got)


PRICES_AFTER_A_COUNT = textwrap.dedent(
    """
    import json, sys, threading
    from a2a_session_manager.tokens import count_tokens
    count_tokens("hello world", "gpt-4o-mini")  # starts o200k_base's load before configure
    import a2a_session_manager as asm
    from a2a_session_manager.storage import InMemorySessionStore
    asm.configure(store=InMemorySessionStore())
    for thread in threading.enumerate():
        if thread.name == "a2a-warm-up":
            thread.join(120)
    print(json.dumps({"prices": "genai_prices" in sys.modules}))
    """
)


def test_configure_after_a_first_count_still_loads_the_prices() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PRICES_AFTER_A_COUNT],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"prices": True}
