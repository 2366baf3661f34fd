"""Helpers shared by every test directory: `import helpers` (tests/conftest.py puts
this directory on sys.path). The per-directory modules (clitools, batchutil, ...)
hold what only their own tests use."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

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


def end_all(procs: Iterable[subprocess.Popen[Any]], timeout: float = 60) -> None:
    """Kill each process still running, then collect every one's exit (and output):
    the teardown of commands a test started in the background."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=timeout)


def tmux_sessions(socket: str) -> list[str]:
    """The session names on the tmux server of private socket `socket` (none when
    that server does not run)."""
    proc = subprocess.run(["tmux", "-L", socket, "list-sessions", "-F", "#{session_name}"],
                          capture_output=True, text=True)
    return proc.stdout.split() if proc.returncode == 0 else []
