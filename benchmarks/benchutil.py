"""What the session benchmarks share: a throwaway git repository to run batches in,
and ending the sessions started there before it is removed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

GIT_ENV = {
    "GIT_AUTHOR_NAME": "pirun bench",
    "GIT_AUTHOR_EMAIL": "bench@pirun.invalid",
    "GIT_COMMITTER_NAME": "pirun bench",
    "GIT_COMMITTER_EMAIL": "bench@pirun.invalid",
}


def git(cwd: Path, *args: str) -> None:
    """git in `cwd` as the benchmarks' author; a failure raises."""
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})


def init_bench_repo(path: Path) -> None:
    """A new repository at `path` with one commit, ignoring pirun's `.worktrees/`."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# bench\n")
    (path / ".gitignore").write_text(".worktrees/\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "bench repository")


def init_session_repo(
    path: Path, size: int, backend: str, socket: str, agent: list[str], body: str
) -> None:
    """`init_bench_repo`, configured for local issues 1..`size` (none blocked, each
    saying `body`) run by the command `agent` in `backend`'s sessions (tmux: a
    private server on `socket`)."""
    init_bench_repo(path)
    config: dict[str, Any] = {"tracker": "local", "backend": backend, "agent": {"command": agent}}
    if backend == "tmux":
        config["tmux"] = {"socket_name": socket}
    (path / ".pirun.yaml").write_text(yaml.safe_dump(config))
    issues = path / ".pirun" / "issues"
    issues.mkdir(parents=True)
    for number in range(1, size + 1):
        (issues / f"{number}.md").write_text(f"---\ntitle: Issue {number}\n---\n{body}\n")


def wait_until_gone(directory: Path, timeout: float = 30.0) -> bool:
    """Wait, at most `timeout` seconds, until no process names `directory` in its
    command line (the exec wrappers, agents and tmux server of the sessions started
    there); False if some still do.

    Stopping a session does not wait for its exec wrapper, which writes its last
    status record as it exits: removing the directory before that fails with
    "Directory not empty"."""
    needle = str(directory).encode()
    deadline = time.monotonic() + timeout
    while True:
        if not any(needle in cmdline for cmdline in _command_lines()):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _command_lines() -> list[bytes]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                found.append((entry / "cmdline").read_bytes())
    return found
