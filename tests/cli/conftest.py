"""Fixtures for the end-to-end CLI tests: the scripted agent (and a safety net that
no agent process outlives its test), and config for the parametrised backend."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clitools import AGENT_SOURCE, Agent


@pytest.fixture
def agent(tmp_path: Path) -> Agent:
    out = tmp_path / "agent-out"
    out.mkdir()
    script = tmp_path / "agent.py"
    script.write_text(AGENT_SOURCE.replace("__OUT__", repr(str(out))), encoding="utf-8")
    return Agent(script, out)


@pytest.fixture
def configure(repo: Any, backend_config: dict[str, Any]) -> Callable[..., None]:
    """Write `.pirun.yaml` for the parametrised backend plus the given values."""

    def write(**values: Any) -> None:
        repo.write_config(**backend_config, **values)

    return write


@pytest.fixture
def stop_sessions(tmp_path: Path) -> Callable[[], None]:
    """The root `pirun` fixture's teardown, made cheaper: rather than one more `pirun
    stop --all` per test, every process whose command line names this test's tmp dir
    (exec wrappers, agents) is killed, so nothing a test started outlives it,
    whatever went wrong."""
    return lambda: kill_processes_mentioning(str(tmp_path))


def kill_processes_mentioning(text: str) -> None:
    needle = text.encode()
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
