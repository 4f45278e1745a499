"""The browser of the browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium).

Without Chromium (or Playwright) the browser tests are skipped on a developer machine, but in
CI (environment variable ``CI`` set, e.g. ``CI=true``) they fail: CI must never silently skip
them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_HINT = "needs Debian's Chromium: apt-get install -y chromium"
PLAYWRIGHT_HINT = "needs Playwright: .venv/bin/pip install playwright"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(message: str) -> None:
    """Skip the calling test module, or fail it in CI."""
    if in_ci():
        pytest.fail(f"{message} (CI is set: browser tests must not be skipped)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_chromium() -> ModuleType:
    """Call at module level in a browser test; returns ``playwright.sync_api``."""
    try:
        import playwright.sync_api as sync_api
    except ImportError:
        _missing(PLAYWRIGHT_HINT)
        raise  # not reached: _missing skips or fails
    if not CHROMIUM.exists():
        _missing(CHROMIUM_HINT)
    return sync_api


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed on exit."""
    sync_api = require_chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
