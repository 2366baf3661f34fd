"""Fixtures of the reliability suite: the step-scripted agent and background CLIs.

Every test here uses real processes: the `pirun` CLI in subprocesses, real git
repositories, real tmux servers on private sockets, real agents.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliabilityutil import Agent, Procs


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    scripted = Agent(tmp_path / "agent")
    yield scripted
    scripted.kill_all()


@pytest.fixture
def procs(repo: Any, pirun: Any) -> Iterator[Procs]:
    # Depends on `pirun`, so that its teardown (stop every session) runs after ours.
    background = Procs(repo.path)
    yield background
    background.close()
