"""Fixtures for the worktree plugin's tests: a manager on a real repo, and a remote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wtutil import run_git

from pirun.protocols import WorkspaceManager
from pirun.runtime import Runtime

Manager = Callable[..., WorkspaceManager]


@pytest.fixture
def manager(repo: Any) -> Manager:
    """`manager(**config)`: the workspace manager pirun loads for the test repo."""

    def make(**config: Any) -> WorkspaceManager:
        if config:
            repo.write_config(**config)
        return Runtime.load(repo.path).workspaces

    return make


@pytest.fixture
def remote(repo: Any, tmp_path: Path) -> Path:
    """A bare `origin` holding the test repo's `main`."""
    bare = tmp_path / "remote.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main")
    return bare
