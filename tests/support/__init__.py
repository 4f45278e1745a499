"""Shared test infrastructure: free ports, bounded polling, the browser (Debian's Chromium
through Playwright), the handoff service run as a subprocess and the fixture-KB writer.

One place per piece; the test modules import from here instead of keeping their own copies.
"""

from tests.support.axe import assert_accessible, axe_violations
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_browser, require_chromium
from tests.support.handoff_service import HandoffServiceProcess
from tests.support.kb import fixture_article, write_kb
from tests.support.network import free_port
from tests.support.polling import WAIT_SECONDS, wait_until

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "WAIT_SECONDS",
    "HandoffServiceProcess",
    "assert_accessible",
    "axe_violations",
    "chromium_browser",
    "fixture_article",
    "free_port",
    "require_chromium",
    "wait_until",
    "write_kb",
]
