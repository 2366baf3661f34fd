"""Helpers for the Ray backend's tests: repositories with a bare remote, and `pirun`
commands in the foreground or background."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import helpers
import yaml
from raycluster import Cluster

T = TypeVar("T")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class RemoteRepo:
    """A repository whose `origin` is a bare repository on this machine."""

    path: Path
    bare: Path

    def write_config(self, **values: Any) -> None:
        (self.path / ".pirun.yaml").write_text(
            yaml.safe_dump(values, sort_keys=False), encoding="utf-8"
        )

    def add_issues(self, graph: dict[int, list[int]],
                   bodies: dict[int, str] | None = None) -> None:
        issues = self.path / ".pirun" / "issues"
        issues.mkdir(parents=True, exist_ok=True)
        for number, blockers in graph.items():
            front = {"title": f"Issue {number}", "state": "open", "blocked_by": blockers}
            body = (bodies or {}).get(number, f"Work on {number}.")
            (issues / f"{number}.md").write_text(
                "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n" + body + "\n",
                encoding="utf-8",
            )

    def remote_branches(self) -> set[str]:
        out = git(self.bare, "for-each-ref", "--format=%(refname:short)", "refs/heads")
        return set(out.split())

    def status(self, issue: int) -> dict[str, Any] | None:
        path = self.path / ".worktrees" / ".status" / f"{issue}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def log(self, issue: int) -> str:
        path = self.path / ".worktrees" / ".logs" / f"issue-{issue}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def make_remote_repo(directory: Path) -> RemoteRepo:
    directory.mkdir(parents=True)
    bare = directory / "remote.git"
    path = directory / "repo"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# test repo\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    git(path, "remote", "add", "origin", str(bare))
    git(path, "push", "-q", "origin", "main")
    return RemoteRepo(path, bare)


#: The agent argv of `scripted_agent.py`, every path placeholder pirun fills in.
SCRIPTED_AGENT = {"command": [sys.executable, str(Path(__file__).with_name("scripted_agent.py")),
                              "{issue}", "{prompt_file}", "{worktree}", "{repo}"]}


def ray_config(cluster: Cluster, max_concurrent: int = 4, agent: dict[str, Any] | None = None,
               **ray: Any) -> dict[str, Any]:
    return {
        "tracker": "local",
        "backend": "ray",
        "agent": agent or {"preset": "demo"},
        "parallel": {"max_concurrent": max_concurrent},
        # The nodes are this machine: run the job script with this Python (a bare
        # `python` may be another one, e.g. outside CI's venv).
        "ray": {"address": cluster.dashboard_url, "python": sys.executable, **ray},
    }


@dataclass
class Pirun:
    """Runs the real `pirun` command; sessions left behind are stopped at the end."""

    repos: list[Path] = field(default_factory=list)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def env(self, extra: dict[str, str] | None) -> dict[str, str]:
        env = {**os.environ, **(extra or {})}
        for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "PIRUN_BACKEND"):
            env.pop(name, None)
        return env

    def run(self, cwd: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
        self.repos.append(cwd)
        return subprocess.run(
            [sys.executable, "-m", "pirun", *args], cwd=cwd, env=self.env(env),
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )

    def start(self, cwd: Path, *args: str, env: dict[str, str] | None = None,
              ) -> subprocess.Popen[str]:
        self.repos.append(cwd)
        proc = subprocess.Popen(
            [sys.executable, "-m", "pirun", *args], cwd=cwd, env=self.env(env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        helpers.end_all(self.procs, timeout=30)
        for cwd in dict.fromkeys(self.repos):
            if (cwd / ".worktrees").exists():
                subprocess.run([sys.executable, "-m", "pirun", "stop", "--all"], cwd=cwd,
                               capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


def wait_until(predicate: Callable[[], T], timeout: float, what: str) -> T:
    """`helpers.wait_until`, asking the cluster every 0.2 s."""
    return helpers.wait_until(predicate, timeout, interval=0.2, what=what)


def jobs_of(cluster: Cluster, repo: RemoteRepo) -> dict[int, Any]:
    """The Ray jobs pirun submitted for `repo`, by issue (the latest of each)."""
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(cluster.dashboard_url)
    found: dict[int, Any] = {}
    for job in sorted(client.list_jobs(), key=lambda j: j.start_time or 0):
        metadata = job.metadata or {}
        if metadata.get("pirun_repo") == str(repo.path):
            found[int(metadata["pirun_issue"])] = job
    return found
