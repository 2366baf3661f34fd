"""Killed, interrupted and concurrent batches: resume after kill -9, Ctrl-C, the lock."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest
from batchutil import Background, ScriptAgent, add_issues, configure, wait_until


def session_names(pirun: Any) -> list[str]:
    return [row["session"] for row in json.loads(pirun("list", "--json").stdout)]


@pytest.mark.slow
def test_batch_killed_with_9_resumes_without_running_anything_twice(
    repo: Any, pirun: Any, agent: ScriptAgent, background: Background,
    backend_config: dict[str, Any],
) -> None:
    configure(repo, backend_config, agent)
    add_issues(repo, {1: [], 2: [], 3: [1], 4: [3]})
    # #5 waits on #9, open and outside the batch, so the first run skips it; #9 is
    # closed before the second run, which therefore starts #5 right after adopting
    # what the first run left. #3 runs across the kill and finishes only once #5
    # has started: the second run must have re-attached to it.
    repo.add_issue(9, "outside the batch")
    repo.add_issue(5, "waits on #9", blocked_by=[9])
    agent.set(3, until_event="start 5 ")
    command = ["batch", "1", "2", "3", "4", "5"]

    first = background.start(*command)
    wait_until(lambda: agent.started(3), what="#3 to start")
    assert repo.status(1)["status"] == repo.status(2)["status"] == "complete"
    first.proc.kill()  # SIGKILL: no cleanup of any kind
    first.proc.wait(timeout=30)
    assert repo.status(3)["status"] == "running"
    assert session_names(pirun) == ["pi-issue-3"]

    repo.add_issue(9, "outside the batch", state="closed")
    second = pirun(*command, "--json")

    assert second.exit_code == 0, (second.stdout, second.stderr)
    items = {item["issue"]: item for item in json.loads(second.stdout)["results"]}
    assert all(item["state"] == "complete" for item in items.values()), items
    assert items[1]["message"] == items[2]["message"] == "complete in an earlier run"
    assert items[1]["resumed"] and items[2]["resumed"] and items[3]["resumed"]
    assert not items[4]["resumed"] and not items[5]["resumed"]
    for number in range(1, 6):
        assert len(agent.starts(number)) == 1, f"#{number} ran {len(agent.starts(number))} times"
        assert repo.status(number)["status"] == "complete"
    assert agent.starts(4)[0] > agent.ends(3)[0]


@pytest.mark.slow
def test_second_batch_in_the_same_repository_refuses(
    repo: Any, pirun: Any, agent: ScriptAgent, background: Background, tmp_path: Any
) -> None:
    configure(repo, {"backend": "process"}, agent)
    add_issues(repo, {1: [], 2: []})
    gate = tmp_path / "gate"
    agent.set(1, until=str(gate))

    first = background.start("batch", "1")
    wait_until(lambda: agent.started(1), what="#1 to start")

    second = pirun("batch", "2")

    assert second.exit_code == 1
    assert "another `pirun batch` is running in this repository" in second.stderr
    assert not agent.started(2)
    gate.touch()
    code, out, err = first.finish()
    assert code == 0, (out, err)
    # The lock went with the first batch.
    assert pirun("batch", "2").exit_code == 0


@pytest.mark.slow
def test_ctrl_c_prints_the_summary_and_leaves_sessions_running(
    repo: Any, pirun: Any, agent: ScriptAgent, background: Background, tmp_path: Any,
    backend_config: dict[str, Any],
) -> None:
    configure(repo, backend_config, agent)
    add_issues(repo, {1: [], 2: [1]})
    gate = tmp_path / "gate"
    agent.set(1, until=str(gate))

    batch = background.start("batch", "1", "2", new_group=True)
    wait_until(lambda: agent.started(1), what="#1 to start")
    # Ctrl-C on a terminal: SIGINT to the whole foreground process group.
    os.killpg(batch.pid, signal.SIGINT)
    code, out, err = batch.finish(timeout=30)

    assert code == 130, (out, err)
    assert "Interrupted: nothing new was started; running sessions are left alive." in out
    assert "Summary: 0 complete, 0 failed, 0 skipped, 1 still running, 1 not started" in out
    assert "Traceback" not in err
    assert repo.status(1)["status"] == "running"
    assert repo.status(2) is None
    assert session_names(pirun) == ["pi-issue-1"]

    # The session finishes on its own and records its result; nothing starts #2.
    gate.touch()
    wait_until(lambda: repo.status(1)["status"] == "complete", what="#1 to complete")
    wait_until(lambda: session_names(pirun) == [], what="#1's session to end")
    assert not agent.started(2)


def test_rerun_retries_failed_issues_on_their_branch(
    repo: Any, pirun: Any, agent: ScriptAgent
) -> None:
    configure(repo, {"backend": "process"}, agent)
    add_issues(repo, {1: [], 2: [1], 3: []})
    agent.set(1, action="error")

    first = pirun("batch", "1", "2", "3", "--continue-on-error")
    assert first.exit_code == 1, (first.stdout, first.stderr)
    assert repo.status(1)["status"] == "error"

    agent.set(1)  # complete this time
    second = pirun("batch", "1", "2", "3", "--json")

    assert second.exit_code == 0, (second.stdout, second.stderr)
    items = {item["issue"]: item for item in json.loads(second.stdout)["results"]}
    assert items[3]["message"] == "complete in an earlier run"
    assert [len(agent.starts(n)) for n in (1, 2, 3)] == [2, 1, 1]
    assert repo.status(1)["status"] == "complete"
    # The retry ran in a new worktree on the same branch.
    assert repo.git("branch", "--list", "--format=%(refname:short)", "issue-1-*") == (
        "issue-1-issue-1"
    )
    assert (repo.path / ".worktrees" / "issue-1-issue-1").is_dir()
