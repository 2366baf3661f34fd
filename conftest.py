"""Fixtures shared by every test: real git repositories, a private tmux server, the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

#: pirun's conformance suites and their fixtures, loaded as a third party loads them.
pytest_plugins = ["pirun.testing"]

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "pirun tests",
    "GIT_AUTHOR_EMAIL": "tests@pirun.invalid",
    "GIT_COMMITTER_NAME": "pirun tests",
    "GIT_COMMITTER_EMAIL": "tests@pirun.invalid",
}


def pytest_configure(config: pytest.Config) -> None:
    os.environ.update(GIT_IDENTITY)
    # Tests must never see a developer's own tmux server or plugin restrictions.
    os.environ.pop("TMUX", None)
    os.environ.pop("PIRUN_PLUGINS", None)
    os.environ.pop("PIRUN_BACKEND", None)
    # pirun's entry-point cache: shared by the test workers, never the user's own.
    os.environ["PIRUN_CACHE_DIR"] = os.path.join(
        tempfile.gettempdir(), f"pirun-tests-{os.getuid()}", "cache"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Slow tests first, the longest allowed first of all, so the workers finish together
    # instead of one running the 500-issue load test alone at the end.
    items.sort(key=_longest_first)


def _longest_first(item: pytest.Item) -> tuple[int, float]:
    if item.get_closest_marker("slow") is None:
        return (1, 0.0)
    timeout = item.get_closest_marker("timeout")
    return (0, -float(timeout.args[0]) if timeout and timeout.args else 0.0)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class Repo:
    """A throwaway git repository with helpers to write config and local issues."""

    path: Path

    def git(self, *args: str) -> str:
        return git(self.path, *args)

    def write_config(self, **values: Any) -> Path:
        target = self.path / ".pirun.yaml"
        target.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
        return target

    def add_issue(
        self,
        number: int,
        title: str,
        body: str = "",
        state: str = "open",
        blocked_by: list[int] | None = None,
    ) -> Path:
        issues = self.path / ".pirun" / "issues"
        issues.mkdir(parents=True, exist_ok=True)
        front = {"title": title, "state": state, "blocked_by": blocked_by or []}
        target = issues / f"{number}.md"
        target.write_text(
            "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n" + body, encoding="utf-8"
        )
        return target

    def status(self, issue: int) -> dict[str, Any] | None:
        import json

        path = self.path / ".worktrees" / ".status" / f"{issue}.json"
        return json.loads(path.read_text()) if path.exists() else None


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# test repo\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    return Repo(path)


@pytest.fixture
def tmux_socket() -> Iterator[str]:
    """A private tmux socket name; the server on it is killed after the test."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    name = f"pirun-test-{uuid.uuid4().hex[:10]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)


@pytest.fixture(params=["tmux", "process"])
def backend_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Config values selecting each bundled session backend in turn."""
    if request.param == "tmux":
        socket = request.getfixturevalue("tmux_socket")
        return {"backend": "tmux", "tmux": {"socket_name": socket}}
    return {"backend": "process"}


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


PirunRunner = Callable[..., Result]


@pytest.fixture
def stop_sessions(repo: Repo) -> Callable[[], None]:
    """How the `pirun` fixture stops what its test started: `pirun stop --all`.

    A test directory may override it (tests/cli kills the processes instead).
    """

    def stop() -> None:
        if (repo.path / ".worktrees").exists():
            subprocess.run(
                [sys.executable, "-m", "pirun", "stop", "--all"],
                cwd=repo.path, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
            )

    return stop


@pytest.fixture
def pirun(repo: Repo, stop_sessions: Callable[[], None]) -> Iterator[PirunRunner]:
    """Run the real `pirun` command in a subprocess, in the test repo by default.

    Sessions it started are stopped afterwards (`stop_sessions`), so no agent
    outlives its test.
    """

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 60, input: str | None = None) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "pirun", *args],
            cwd=cwd or repo.path,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    yield run
    stop_sessions()
