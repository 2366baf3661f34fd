"""Git failures through the CLI and a batch: a missing base branch, a detached HEAD,
a worktree path that already exists, a branch left by an earlier run (reused with
its commits), a branch checked out elsewhere. Each is a clear error naming the
issue and the cause, leaves nothing half-made, and loses no commit.

The workspace manager's own cases are tests/plugins/worktree/test_worktree_create.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from reliabilityutil import (
    Agent,
    assert_one_line_error,
    branches,
    configure,
    git_worktrees,
    results,
)

pytestmark = pytest.mark.reliability

PROCESS = {"backend": "process"}


def test_missing_base_branch(repo: Any, pirun: Any, agent: Agent) -> None:
    configure(repo, PROCESS, agent)
    repo.add_issue(1, "One")
    repo.add_issue(2, "Two", blocked_by=[1])

    single = pirun("run", "1", "--no-attach", "--base", "nope")
    batch = pirun("batch", "1", "2", "--base", "nope", "--json")

    assert_one_line_error(single, 1, "base branch 'nope' not found")
    assert batch.exit_code == 1, (batch.stdout, batch.stderr)
    assert {n: (i["state"], i["message"]) for n, i in results(batch.stdout).items()} == {
        1: ("error", "base branch 'nope' not found"),
        2: ("skipped", "blocked by #1 (error)"),
    }
    assert repo.status(1)["error_message"] == "base branch 'nope' not found"
    assert branches(repo) == [] and git_worktrees(repo) == [repo.path]
    assert not agent.events("start")

    repo.write_config(**PROCESS, agent={"command": agent.command()}, base="gone")
    assert_one_line_error(pirun("run", "2", "--no-attach", "--ignore-blockers"), 1,
                          "base branch 'gone' not found")


def test_detached_head_without_a_base(repo: Any, pirun: Any, agent: Agent) -> None:
    configure(repo, PROCESS, agent)
    repo.add_issue(1, "One")
    repo.git("checkout", "-q", "--detach")

    result = pirun("run", "1", "--no-attach")

    assert_one_line_error(result, 1, "cannot tell the default branch (detached HEAD)",
                          "set `base`")
    assert branches(repo) == [] and git_worktrees(repo) == [repo.path]


def test_worktree_path_already_exists_as_a_plain_directory(
    repo: Any, pirun: Any, agent: Agent
) -> None:
    configure(repo, PROCESS, agent)
    repo.add_issue(1, "One")
    stray = repo.path / ".worktrees" / "issue-1-one"
    stray.mkdir(parents=True)
    (stray / "notes.txt").write_text("someone's notes\n")

    batch = pirun("batch", "1", "--json")

    assert batch.exit_code == 1, (batch.stdout, batch.stderr)
    message = results(batch.stdout)[1]["message"]
    assert message == (f"worktree for issue #1 already exists: {stray} "
                       "(use --force to replace it)")
    assert (stray / "notes.txt").read_text() == "someone's notes\n"
    assert not agent.events("start")

    forced = pirun("run", "1", "--no-attach", "--force")

    assert forced.exit_code == 0, forced.stderr
    assert not (stray / "notes.txt").exists()
    assert stray in git_worktrees(repo)


def test_branch_left_by_an_earlier_run_is_reused_with_its_commits(
    repo: Any, pirun: Any, agent: Agent
) -> None:
    configure(repo, PROCESS, agent)
    repo.add_issue(1, "One")
    agent.set(1, ["note", "start"], ["commit", "first.txt"], ["exit", 3])

    failed = pirun("batch", "1", "--json")

    assert results(failed.stdout)[1]["message"] == "agent exited with code 3"
    first = repo.git("rev-parse", "issue-1-one")

    # The same batch again retries the issue on its branch: the commit is kept.
    agent.set(1, ["note", "start"], ["commit", "second.txt"],
              ["print", "###TASK_COMPLETE_{n}###"])
    retried = pirun("batch", "1", "--json")

    assert retried.exit_code == 0, (retried.stdout, retried.stderr)
    assert repo.git("rev-parse", "issue-1-one^") == first
    assert repo.git("ls-tree", "--name-only", "issue-1-one").split() == [
        "README.md", "first.txt", "second.txt"]

    # After a cleanup that keeps the branch, a new run starts from it as well.
    assert pirun("cleanup", "1", "--keep-branch").exit_code == 0
    assert branches(repo) == ["issue-1-one"]
    agent.set(1, ["note", "start"], ["commit", "third.txt"],
              ["print", "###TASK_COMPLETE_{n}###"])
    again = pirun("batch", "1", "--json")

    assert again.exit_code == 0, (again.stdout, again.stderr)
    assert repo.git("rev-list", "--count", "main..issue-1-one") == "3"
    assert len(agent.events("start", 1)) == 3


def test_branch_checked_out_in_the_main_worktree(repo: Any, pirun: Any, agent: Agent) -> None:
    configure(repo, PROCESS, agent)
    repo.add_issue(1, "One")
    repo.git("checkout", "-q", "-b", "issue-1-one")
    (repo.path / "mine.txt").write_text("the user's work\n")

    result = pirun("run", "1", "--no-attach", "--base", "main")

    assert_one_line_error(result, 1, "git worktree failed", "issue-1-one")
    assert repo.status(1)["status"] == "error"
    assert (repo.path / "mine.txt").read_text() == "the user's work\n"
    assert repo.git("branch", "--show-current") == "issue-1-one"
    assert not agent.events("start")
