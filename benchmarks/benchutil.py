"""What the session benchmarks share: a throwaway git repository to run batches in."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "pirun bench",
    "GIT_AUTHOR_EMAIL": "bench@pirun.invalid",
    "GIT_COMMITTER_NAME": "pirun bench",
    "GIT_COMMITTER_EMAIL": "bench@pirun.invalid",
}


def init_bench_repo(path: Path) -> None:
    """A new repository at `path` with one commit, ignoring pirun's `.worktrees/`."""
    path.mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True,
                       env={**os.environ, **GIT_ENV})

    git("init", "-q", "-b", "main")
    (path / "README.md").write_text("# bench\n")
    (path / ".gitignore").write_text(".worktrees/\n")
    git("add", "-A")
    git("commit", "-q", "-m", "bench repository")
