"""Plain helpers shared by the worktree plugin's tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pirun.model import Issue


def run_git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def issue(key: str, title: str = "Fix the thing") -> Issue:
    return Issue(key, title)


def commit_file(cwd: Path, name: str, content: str = "x\n", message: str = "change") -> str:
    """Write and commit a file; returns the new commit."""
    target = cwd / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    run_git(cwd, "add", name)
    run_git(cwd, "commit", "-q", "-m", message)
    return run_git(cwd, "rev-parse", "HEAD")


def push_from_elsewhere(bare: Path, workdir: Path, branch: str = "main") -> str:
    """Another developer's clone commits to `branch` on the remote; returns the commit."""
    clone = workdir / f"other-{branch}"
    if clone.exists():
        run_git(clone, "fetch", "-q", "origin")
    else:
        run_git(workdir, "clone", "-q", str(bare), str(clone))
    run_git(clone, "checkout", "-q", "-B", branch, f"origin/{branch}")
    sha = commit_file(clone, f"upstream-{branch}.txt", "new\n", "upstream change")
    run_git(clone, "push", "-q", "origin", f"HEAD:{branch}")
    return sha
