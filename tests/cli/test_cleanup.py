"""`pirun cleanup`: what it removes, what `--dry-run` lists, and the work it refuses to
throw away without `--force`."""

from __future__ import annotations

import json

import pytest
from clitools import (
    assert_error,
    branches,
    process_gone,
    session_gone,
    wait_for,
    wait_for_status,
    worktree_dirs,
)


def _state(repo) -> dict:
    """Everything cleanup may remove, to compare before and after."""
    status_dir = repo.path / ".worktrees" / ".status"
    return {
        "worktrees": [p.name for p in worktree_dirs(repo)],
        "branches": branches(repo),
        "records": sorted(p.name for p in status_dir.glob("*.json")),
        "git_worktrees": repo.git("worktree", "list", "--porcelain").count("worktree "),
    }


def test_cleanup_issue_and_dry_run(repo, pirun, agent):
    # No session is left to remove: the process backend alone.
    repo.write_config(backend="process", agent={"command": agent.command("exit0")})
    repo.add_issue(1, "Finish")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    wait_for_status(repo, 1, "complete")
    before = _state(repo)
    assert before["worktrees"] == ["issue-1-finish"] and before["records"] == ["1.json"]

    dry = pirun("cleanup", "1", "--dry-run")

    assert dry.exit_code == 0, dry.stderr
    assert "Would remove for issue #1" in dry.stdout
    assert "issue-1-finish" in dry.stdout and "status record" in dry.stdout
    assert _state(repo) == before

    result = pirun("cleanup", "1")

    assert result.exit_code == 0, result.stderr
    assert "Removed for issue #1" in result.stdout
    assert _state(repo) == {"worktrees": [], "branches": [], "records": [], "git_worktrees": 1}
    assert pirun("cleanup", "1").stdout.strip() == "Nothing to clean up."


def test_cleanup_running_issue_needs_force(repo, pirun, configure, agent, backend_config):
    configure(agent={"command": agent.command("sleep")})
    repo.add_issue(1, "Busy")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    ((agent_pid, wrapper_pid),) = agent.wait_pids(1)

    refused = pirun("cleanup", "1")

    assert_error(refused, 1, "still running", "--force")
    assert not session_gone(backend_config, 1, wrapper_pid)
    assert [p.name for p in worktree_dirs(repo)] == ["issue-1-busy"]

    forced = pirun("cleanup", "1", "--force")

    assert forced.exit_code == 0, forced.stderr
    assert session_gone(backend_config, 1, wrapper_pid)
    wait_for(lambda: process_gone(agent_pid), what="the agent to be gone")
    assert _state(repo) == {"worktrees": [], "branches": [], "records": [], "git_worktrees": 1}


@pytest.mark.slow
def test_cleanup_all_completed(repo, pirun, agent):
    backend_config = {"backend": "process"}
    repo.write_config(**backend_config, agent={"command": agent.command("auto")})
    for n, mode in ((1, "exit0"), (2, "exit3"), (3, "sleep"), (4, "exit0")):
        repo.add_issue(n, f"Issue {n}", body=f"agent-mode: {mode}\n")
        assert pirun("run", str(n), "--no-attach").exit_code == 0
    for n, status in ((1, "complete"), (2, "error"), (4, "complete")):
        wait_for_status(repo, n, status)
    ((_, wrapper),) = agent.wait_pids(3)

    dry = pirun("cleanup", "--all", "--completed", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    assert set(json.loads(dry.stdout)["removed"]) == {"1", "4"}

    result = pirun("cleanup", "--all", "--completed")

    assert result.exit_code == 0, result.stderr
    state = _state(repo)
    assert state["worktrees"] == ["issue-2-issue-2", "issue-3-issue-3"]
    assert state["records"] == ["2.json", "3.json"]
    assert state["branches"] == ["issue-2-issue-2", "issue-3-issue-3"]
    assert not session_gone(backend_config, 3, wrapper)


@pytest.mark.slow
def test_cleanup_orphaned(repo, pirun, configure, agent, backend_config):
    configure(agent={"command": agent.command("auto")})
    # 1: finished, worktree left without a session.
    # 2: a status record with neither worktree nor session.
    # 3: running: session and worktree, not an orphan.
    for n, mode in ((1, "exit0"), (2, "exit0"), (3, "sleep")):
        repo.add_issue(n, f"Issue {n}", body=f"agent-mode: {mode}\n")
        assert pirun("run", str(n), "--no-attach").exit_code == 0
    wait_for_status(repo, 1, "complete")
    wait_for_status(repo, 2, "complete")
    ((_, wrapper),) = agent.wait_pids(3)
    repo.git("worktree", "remove", "--force", str(repo.path / ".worktrees" / "issue-2-issue-2"))
    before = _state(repo)

    dry = pirun("cleanup", "--orphaned", "--dry-run")

    assert dry.exit_code == 0, dry.stderr
    assert "issue #1" in dry.stdout and "issue #2" in dry.stdout
    assert "issue #3" not in dry.stdout
    assert _state(repo) == before

    result = pirun("cleanup", "--orphaned")

    assert result.exit_code == 0, result.stderr
    state = _state(repo)
    assert state["worktrees"] == ["issue-3-issue-3"]
    assert state["records"] == ["3.json"]
    # An orphan's branch may be the only reference to finished work: kept.
    assert "issue-1-issue-1" in state["branches"]
    assert not session_gone(backend_config, 3, wrapper)


def test_cleanup_orphaned_session_without_worktree(
    repo, pirun, configure, agent, backend_config
):
    configure(agent={"command": agent.command("sleep")})
    repo.add_issue(1, "Lost worktree")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    ((agent_pid, wrapper_pid),) = agent.wait_pids(1)
    repo.git("worktree", "remove", "--force", str(worktree_dirs(repo)[0]))

    # Its agent still runs: like any running issue, it needs --force.
    assert_error(pirun("cleanup", "--orphaned"), 1, "issue #1 is still running")
    dry = pirun("cleanup", "--orphaned", "--dry-run", "--force")
    assert dry.exit_code == 0, dry.stderr
    assert "Would remove for issue #1: session pi-issue-1" in dry.stdout
    assert not session_gone(backend_config, 1, wrapper_pid)

    result = pirun("cleanup", "--orphaned", "--force")

    assert result.exit_code == 0, result.stderr
    assert "session pi-issue-1" in result.stdout
    assert session_gone(backend_config, 1, wrapper_pid)
    wait_for(lambda: process_gone(agent_pid), what="the agent to be gone")


def test_cleanup_keeps_uncommitted_and_unmerged_work_without_force(repo, pirun, agent):
    # No session is left to remove: the process backend alone.
    repo.write_config(backend="process", agent={"command": agent.command("auto")})
    repo.add_issue(1, "Dirty", body="agent-mode: dirty\n")
    repo.add_issue(2, "Committed", body="agent-mode: commit\n")
    for n in (1, 2):
        assert pirun("run", str(n), "--no-attach").exit_code == 0
    wait_for_status(repo, 1, "complete")
    wait_for_status(repo, 2, "complete")
    before = _state(repo)

    dirty = pirun("cleanup", "1")
    assert_error(dirty, 1, "uncommitted changes", "--force")
    unmerged = pirun("cleanup", "2")
    assert_error(unmerged, 1, "issue-2-committed", "unmerged", "--force")
    assert _state(repo) == before
    assert (repo.path / ".worktrees" / "issue-1-dirty" / "work.txt").exists()

    forced = pirun("cleanup", "1", "2", "--force")

    assert forced.exit_code == 0, forced.stderr
    assert _state(repo) == {"worktrees": [], "branches": [], "records": [], "git_worktrees": 1}
