"""Fixtures for the batch tests: a scripted agent and background `pirun` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batchutil import Background, ScriptAgent


@pytest.fixture
def agent(tmp_path: Path) -> ScriptAgent:
    return ScriptAgent(tmp_path / "agent")


@pytest.fixture
def background(repo: Any, pirun: Any, tmp_path: Path) -> Iterator[Background]:
    # Depends on `pirun` so that its teardown (stop every session) runs after ours.
    procs = Background(repo.path, tmp_path / "background")
    yield procs
    procs.close()
