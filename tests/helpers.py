"""Helpers shared by every test directory: `import helpers` (tests/conftest.py puts
this directory on sys.path). The per-directory modules (clitools, batchutil, ...)
hold what only their own tests use."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Seconds `wait_until` polls by default: far beyond what a passing test needs, so it
#: only decides how long a failing one takes to say so.
DEADLINE = 30.0
INTERVAL = 0.05


def wait_until(
    predicate: Callable[[], T], timeout: float = DEADLINE, interval: float = INTERVAL,
    what: str = "condition",
) -> T:
    """Poll `predicate` until it returns something truthy and return that; after
    `timeout` seconds (one last call included) fail with an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
