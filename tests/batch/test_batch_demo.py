"""`pirun demo`: a real batch on a throwaway repository, both backends."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(params=["tmux", "process"])
def demo_dir(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Path, dict[str, str]]]:
    target = tmp_path / f"demo-{request.param}"
    env = {"PIRUN_BACKEND": "process"} if request.param == "process" else {}
    yield target, env
    # The demo runs tmux sessions on a private server named after its directory.
    subprocess.run(["tmux", "-L", f"pirun-demo-{target.name}", "kill-server"],
                   capture_output=True)


def git(path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, check=True, capture_output=True,
                          text=True).stdout


@pytest.mark.slow
def test_demo_runs_a_real_batch(pirun: Any, demo_dir: tuple[Path, dict[str, str]]) -> None:
    target, env = demo_dir

    result = pirun("demo", "--dir", str(target), "--delay", "0.2", env=env, timeout=120)

    assert result.exit_code == 0, (result.stdout, result.stderr)
    out = result.stdout
    assert out.startswith(f"Demo repository: {target}\n")
    assert "Layer 0: #1, #2\nLayer 1: #3, #4, #6\nLayer 2: #5, #7\n" in out
    assert "#7 skipped (blocked by #6 (error))" in out
    assert "Summary: 5 complete, 1 failed, 1 skipped, 0 still running, 0 not started" in out
    assert f"The demo repository is at {target}" in out

    records = {
        record["issue"]: record
        for record in json.loads(pirun("-C", str(target), "status", "--json").stdout)
    }
    # #7 never started: it has no record.
    assert {n: r["status"] for n, r in records.items()} == {
        1: "complete", 2: "complete", 3: "complete", 4: "complete", 5: "complete", 6: "error"
    }
    assert records[6]["error_message"] == "the demo agent was asked to fail"
    # Real worktrees on real branches, each with the demo agent's commit.
    worktrees = git(target, "worktree", "list")
    for number in range(1, 7):
        branch = next(
            line.split()[-1].strip("[]") for line in worktrees.splitlines()
            if f"/issue-{number}-" in line
        )
        log = git(target, "log", "--format=%s", f"main..{branch}")
        expected = f"demo: work for issue #{number}"
        assert (expected in log) == (number != 6), (number, log)
