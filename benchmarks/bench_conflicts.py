"""Cost of one early-conflict check (`worktree.conflict_check`) over a batch's branches.

Makes a throwaway repository with `--size` issue branches off `main`. Each branch
commits a file of its own. Every third one also edits the same line of a shared
`config.txt`, so those branches conflict pairwise. The benchmark then times the
check three ways, as a batch meets them:

- `cold`: the first check, with every branch new to it;
- `idle`: a check where no branch moved (the common case every few seconds);
- `one_moved`: a check after one branch got a new commit.

It prints the seconds and git calls of each:

    {"branches": 20, "cold": {"seconds": 0.31, "git_calls": 28, "conflicts": 21}, ...}

    python benchmarks/bench_conflicts.py [--size 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pirun_worktree
from pirun_worktree import GitWorktrees

from pirun.config import build_config
from pirun.model import Workspace


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit_on(repo: Path, branch: str, files: dict[str, str], message: str) -> None:
    """A commit on `branch` made with plumbing, so no checkout is needed."""
    parent = git(repo, "rev-parse", branch)
    index = repo / ".git" / "bench-index"
    env_git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    env = {"GIT_INDEX_FILE": str(index), "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "read-tree", parent], cwd=repo, check=True, env=env)
    for name, text in files.items():
        blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=text,
                              capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}"],
                       cwd=repo, check=True, env=env)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, capture_output=True, text=True,
                          check=True, env=env).stdout.strip()
    commit = subprocess.run([*env_git, "commit-tree", tree, "-p", parent, "-m", message],
                            cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    git(repo, "update-ref", f"refs/heads/{branch}", commit)


def make_repo(root: Path, size: int) -> list[Workspace]:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "config.txt").write_text("value = 0\n")
    git(repo, "add", "config.txt")
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost",
        "commit", "-q", "-m", "initial")
    workspaces = []
    for n in range(1, size + 1):
        branch = f"issue-{n}-work"
        git(repo, "branch", branch, "main")
        files = {f"src/module_{n}.py": f"VALUE = {n}\n"}
        if n % 3 == 0:
            files["config.txt"] = f"value = {n}\n"
        commit_on(repo, branch, files, f"work on {n}")
        workspaces.append(Workspace(str(n), repo / ".worktrees" / branch, branch))
    return workspaces


class Counting:
    """Counts the git calls the check makes: every one goes through the plugin's
    module-level `git` (the base's lookup included)."""

    def __init__(self) -> None:
        self.calls = 0
        run = pirun_worktree.git

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return run(*args, **kwargs)

        pirun_worktree.git = counted  # type: ignore[assignment]


def measure(manager: GitWorktrees, counter: Counting,
            workspaces: list[Workspace]) -> dict[str, Any]:
    counter.calls = 0
    start = time.perf_counter()
    found = manager.conflicts(workspaces, "main")
    return {"seconds": round(time.perf_counter() - start, 4), "git_calls": counter.calls,
            "conflicts": len(found)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20, help="branches checked")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each case")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"cold": [], "idle": [], "one_moved": []}
    counter = Counting()
    for attempt in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="pirun-bench-conflicts-") as tmp:
            workspaces = make_repo(Path(tmp), args.size)
            repo = Path(tmp) / "repo"
            manager = GitWorktrees(build_config(repo, None, {}, []))
            runs["cold"].append(measure(manager, counter, workspaces))
            runs["idle"].append(measure(manager, counter, workspaces))
            commit_on(repo, workspaces[0].branch, {"src/extra.py": f"N = {attempt}\n"}, "more")
            runs["one_moved"].append(measure(manager, counter, workspaces))
    report: dict[str, Any] = {"branches": args.size, "repeat": args.repeat}
    for case, results in runs.items():
        report[case] = {
            "seconds_median": statistics.median(r["seconds"] for r in results),
            "git_calls": results[0]["git_calls"],
            "conflicts": results[0]["conflicts"],
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
