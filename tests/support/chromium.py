"""Debian's ``chromium``, headless, for tests that look at real rendered pages.

``chromium_binary()`` finds the browser, installing it with apt when it is
missing and we run as root; when it cannot be had, the test is skipped, unless
``CI`` is set, where a missing browser is a failure.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def _find() -> str | None:
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _install() -> str:
    """Try ``apt-get install -y chromium`` (after ``apt-get update`` if needed);
    return why it failed, or "" on success."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "chromium is not installed (install it with: apt-get install -y chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    for commands in ([install], [["apt-get", "update"], install]):
        for command in commands:
            subprocess.run(command, env=env, capture_output=True, timeout=1200, check=False)
        if _find():
            return ""
    return "apt-get install -y chromium did not provide a chromium binary"


@functools.cache
def _locate() -> tuple[str | None, str]:
    found = _find()
    if found:
        return found, ""
    why = _install()
    return _find(), why


def chromium_binary() -> str:
    """The browser's path; skips the test (fails it on CI) when there is none."""
    path, why = _locate()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"chromium is required on CI: {why}")
        pytest.skip(why)
    return path


def run_chromium(page: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run headless chromium on ``page`` (a local file) with a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [
                chromium_binary(),
                *_FLAGS,
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                *extra,
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def dump_dom(page: Path) -> tuple[str, str]:
    """The DOM after the page's scripts ran, and the browser's log (stderr)."""
    done = run_chromium(page, "--dump-dom", "--virtual-time-budget=5000")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 1600) -> str:
    """Write a PNG of ``page`` to ``out``; returns the browser's log."""
    done = run_chromium(
        page,
        f"--screenshot={out}",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def console_errors(log: str) -> list[str]:
    """Lines of chromium's log that report the page's console errors or
    uncaught exceptions (browser-internal noise such as D-Bus is ignored)."""
    return [
        line
        for line in log.splitlines()
        if "CONSOLE" in line and ("ERROR" in line or "Uncaught" in line)
    ]
