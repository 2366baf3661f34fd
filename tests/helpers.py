"""Helpers shared by every test directory: `import helpers` (tests/conftest.py puts
this directory on sys.path). The per-directory modules (clitools, batchutil, ...)
hold what only their own tests use."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from typing import Any

from pirun.testing.backend import DEADLINE, wait_until

#: `wait_until` is the one pirun ships to plugin authors with its conformance suites:
#: a 30 s deadline, far beyond what a passing test needs, so it only decides how long
#: a failing one takes to say so.
__all__ = ["DEADLINE", "end_all", "tmux_sessions", "wait_until"]


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
