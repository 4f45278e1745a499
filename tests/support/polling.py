"""Bounded waiting for a condition: how the tests wait, never a timing assertion."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

WAIT_SECONDS = 240.0  # generous bound for a shared 2-core machine; not a timing assertion


def wait_until(
    condition: Callable[[], T],
    what: str,
    timeout: float = WAIT_SECONDS,
    interval: float = 0.1,
) -> T:
    """Call ``condition`` until it returns a truthy value and return that value; fail the test
    (naming ``what``) if it has not after ``timeout`` seconds. ``condition`` may itself fail the
    test early (e.g. assert that a server process is still alive)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting ({timeout:g} s) for: {what}")
        time.sleep(interval)
