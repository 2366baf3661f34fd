"""Helpers shared by every test directory: `import helpers` (tests/conftest.py puts
this directory on sys.path). The per-directory modules (clitools, batchutil, ...)
hold what only their own tests use."""

from __future__ import annotations

import fcntl
import importlib
import importlib.util
import site
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from pirun.testing.backend import DEADLINE, wait_until

#: `wait_until` is the one pirun ships to plugin authors with its conformance suites:
#: a 30 s deadline, far beyond what a passing test needs, so it only decides how long
#: a failing one takes to say so.
__all__ = ["DEADLINE", "end_all", "install_example", "tmux_sessions", "wait_until"]


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


def install_example(module: str, project: Path, *, editable: bool = False) -> None:
    """pip-install the example plugin `project` (which provides `module`) into this
    environment, the way a user would, unless the installed module already matches the
    source. Test workers share the environment: one installs while the others wait."""
    with open(Path(sys.prefix) / ".pirun-tests-pip.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        importlib.invalidate_caches()
        spec = importlib.util.find_spec(module)
        source = project / f"{module}.py"
        current = spec is not None and (
            editable or not source.is_file()
            or Path(spec.origin or "").read_bytes() == source.read_bytes())
        if current:
            return
        installed = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
             "--no-build-isolation", *(["-e"] if editable else []), str(project)],
            capture_output=True, text=True,
        )
        if installed.returncode != 0:
            errors = [line for line in installed.stderr.splitlines() if "Error" in line]
            pytest.fail(f"pip could not install {project.name}: "
                        f"{errors[-1] if errors else installed.stderr[-300:]}")
        # An editable install is a `.pth` file, which Python reads at start-up only:
        # read it again here, so this process (and the test workers, which copy its
        # sys.path) can import what was just installed.
        for directory in site.getsitepackages():
            site.addsitedir(directory)
        importlib.invalidate_caches()
