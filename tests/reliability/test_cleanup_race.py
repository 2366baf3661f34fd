"""`pirun cleanup` while a batch runs, and cleanup of work that is not merged.

Cleanup run over and over during a batch refuses the issues still running (and
those starting), removes only finished ones, and the batch still completes every
issue; no agent's commit is lost. (Every agent commits, so a finished issue is
refused too, for its unmerged commit.) A finished issue removed before the batch,
or a `pirun wait`, has read its record still counts with its real outcome: cleanup
keeps the outcome for them. tests/cli/test_cleanup.py has the single-issue refusals
(uncommitted changes, unmerged commits, running session); here the same refusals
come from one `cleanup --all` over a finished batch with mixed results.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from reliabilityutil import (
    Agent,
    Procs,
    assert_one_line_error,
    branches,
    configure,
    figure,
    git_worktrees,
    list_sessions,
    records,
    results,
    wait_for,
)

pytestmark = pytest.mark.reliability

GRAPH = {1: [], 2: [], 3: [], 4: [], 5: [1], 6: [2], 7: [5], 8: [3, 6]}


@pytest.mark.slow
def test_cleanup_racing_a_running_batch_refuses_running_issues_and_loses_nothing(
    repo: Any, pirun: Any, agent: Agent, procs: Procs, backend_config: dict[str, Any],
    tmp_path: Path,
) -> None:
    # The first layer's agents hold until a cleanup has met a running issue: on a
    # loaded machine a cleanup takes seconds, and the whole batch could otherwise
    # slip between two of them (seen: 3 cleanups, none during a run).
    gate = tmp_path / "gate"
    configure(repo, backend_config, agent)
    for n, blockers in GRAPH.items():
        repo.add_issue(n, f"Issue {n}", blocked_by=blockers)
        hold = [] if blockers else [["wait", str(gate)]]
        agent.set(n, ["note", "start"], *hold, ["sleep", 0.4 + (n % 3) / 5],
                  ["commit", f"work-{n}.txt"], ["note", "end"],
                  ["print", "###TASK_COMPLETE_{n}###"], ["sleep", 0.5])

    batch = procs.start("batch", *map(str, GRAPH), "--interval", "1", "--json")
    cleanups: list[Any] = []

    def race() -> None:
        give_up = time.monotonic() + 40  # then fail below, not by the test's timeout
        while batch.poll() is None:
            cleanups.append(pirun("cleanup", "--all", "--json"))
            if "is still running" in cleanups[-1].stdout or time.monotonic() > give_up:
                gate.touch()

    racer = threading.Thread(target=race)
    racer.start()
    out, err = batch.communicate(timeout=180)
    racer.join(timeout=120)

    items = results(out)
    summary = {n: (i["state"], i["message"]) for n, i in items.items()}
    assert batch.returncode == 0, (summary, err, [c.stdout + c.stderr for c in cleanups])
    assert {n: i["state"] for n, i in items.items()} == {n: "complete" for n in GRAPH}
    for n in GRAPH:
        assert len(agent.starts(n)) == 1, n
    running = unmerged = 0
    for cleanup in cleanups:
        assert "Traceback" not in cleanup.stderr, cleanup.stderr
        assert cleanup.exit_code in (0, 1), (cleanup.stdout, cleanup.stderr)
        report = json.loads(cleanup.stdout)
        # Finished issues hold an unmerged commit, so nothing at all may go.
        assert all(not what or what == [f"session pi-issue-{n}"]
                   for n, what in report["removed"].items()), report
        for n, reason in report["refused"].items():
            if reason == f"issue #{n} is still running; stop it first or use --force":
                running += 1
            else:
                assert "unmerged commit(s); use --force" in reason, reason
                unmerged += 1
    figure("cleanup race: cleanup runs / 'still running' / 'unmerged' refusals",
           [len(cleanups), running, unmerged])
    assert running >= 1
    assert len(cleanups) >= 2
    # Nothing lost: every agent's work is on its branch.
    for n in GRAPH:
        assert f"issue-{n}-issue-{n}" in branches(repo)
        files = repo.git("ls-tree", "--name-only", f"issue-{n}-issue-{n}").split()
        assert f"work-{n}.txt" in files


def test_cleanup_all_after_a_batch_keeps_uncommitted_and_unmerged_work(
    repo: Any, pirun: Any, agent: Agent
) -> None:
    configure(repo, {"backend": "process"}, agent)
    behaviour = {
        1: [["dirty", "draft.txt"]],          # uncommitted changes
        2: [["commit", "done.txt"]],          # an unmerged commit
        3: [],                                # nothing: safe to remove
        4: [["commit", "merged.txt"]],        # merged before the cleanup
    }
    for n, work in behaviour.items():
        repo.add_issue(n, f"Issue {n}")
        agent.set(n, ["note", "start"], *work, ["print", "###TASK_COMPLETE_{n}###"])
    assert pirun("batch", *map(str, behaviour)).exit_code == 0
    repo.git("merge", "-q", "--ff-only", "issue-4-issue-4")

    result = pirun("cleanup", "--all")

    assert result.exit_code == 1, (result.stdout, result.stderr)
    refusals = result.stderr.strip().splitlines()
    assert refusals == [
        "Refused: issue #1: worktree has uncommitted changes; use --force to discard them",
        "Refused: issue #2: branch issue-2-issue-2 has 1 unmerged commit(s); "
        "use --force to delete it",
    ]
    assert "Removed for issue #3" in result.stdout and "Removed for issue #4" in result.stdout
    assert (repo.path / ".worktrees" / "issue-1-issue-1" / "draft.txt").is_file()
    assert branches(repo) == ["issue-1-issue-1", "issue-2-issue-2"]
    assert sorted(records(repo)) == [1, 2]

    forced = pirun("cleanup", "--all", "--force")

    assert forced.exit_code == 0, forced.stderr
    assert branches(repo) == [] and records(repo) == {}
    assert git_worktrees(repo) == [repo.path]


def test_cleanup_refuses_an_issue_still_starting(
    repo: Any, pirun: Any, agent: Agent, procs: Procs, tmp_path: Path
) -> None:
    """While a worktree's setup command runs, the issue has a `running` record and no
    session yet: cleanup must not take its worktree and record away."""
    in_setup, gate = tmp_path / "in-setup", tmp_path / "gate"
    setup = ["sh", "-c", f'touch "{in_setup}"; while [ ! -e "{gate}" ]; do sleep 0.05; done']
    configure(repo, {"backend": "process"}, agent, worktree={"setup": [setup]})
    repo.add_issue(1, "Slow setup")
    batch = procs.start("batch", "1", "--json")
    wait_for(in_setup.exists, timeout=60, what="the setup command to run")

    refused = pirun("cleanup", "1")
    everything = pirun("cleanup", "--all", "--force", "--dry-run")

    assert_one_line_error(refused, 1, "issue #1 is still running")
    assert "status record" in everything.stdout
    gate.touch()
    out, err = batch.communicate(timeout=60)
    assert batch.returncode == 0, (out, err)
    assert results(out)[1]["state"] == "complete"
    assert repo.status(1)["status"] == "complete"
    assert len(agent.starts(1)) == 1


def test_cleanup_of_a_finished_issue_the_batch_has_not_seen_yet(
    repo: Any, pirun: Any, agent: Agent, procs: Procs, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    configure(repo, {"backend": "process"}, agent)
    repo.add_issue(1, "Finishes while the batch is stopped")
    repo.add_issue(2, "Depends on #1", blocked_by=[1])
    agent.set(1, ["note", "start"], ["wait", str(gate)], ["print", "###TASK_COMPLETE_{n}###"])
    batch = procs.start("batch", "1", "2", "--interval", "1", "--json")
    wait_for(lambda: agent.starts(1), timeout=60, what="#1 to start")
    # The batch is busy elsewhere (stopped here, to make the moment certain) when #1
    # finishes and a cleanup removes it.
    os.kill(batch.pid, signal.SIGSTOP)
    try:
        gate.touch()
        wait_for(lambda: (repo.status(1) or {}).get("status") == "complete",
                 what="#1 to complete")
        wait_for(lambda: "pi-issue-1" not in list_sessions(pirun), what="#1's session to end")
        cleaned = pirun("cleanup", "1")
        # Cleanup did all it was asked: nothing of #1 is left to read.
        assert cleaned.exit_code == 0, cleaned.stderr
        assert "status record" in cleaned.stdout
        assert repo.status(1) is None and branches(repo) == []
    finally:
        os.kill(batch.pid, signal.SIGCONT)
    out, err = batch.communicate(timeout=60)

    items = results(out)
    assert {n: i["state"] for n, i in items.items()} == {1: "complete", 2: "complete"}, err
    assert len(agent.starts(1)) == 1 and len(agent.starts(2)) == 1


def test_wait_reports_the_real_outcome_of_an_issue_cleaned_before_it_looked(
    repo: Any, pirun: Any, agent: Agent, procs: Procs, tmp_path: Path
) -> None:
    """Without the kept outcome, `pirun wait` found neither record nor session and
    counted the failed issue as complete."""
    gate = tmp_path / "gate"
    configure(repo, {"backend": "process"}, agent)
    repo.add_issue(1, "Fails while nobody looks")
    agent.set(1, ["note", "start"], ["wait", str(gate)], ["print", "###TASK_ERROR_{n}### broke"])
    assert pirun("run", "1", "--no-attach").exit_code == 0
    wait_for(lambda: agent.starts(1), timeout=60, what="#1 to start")
    waiting = procs.start("wait", "1", "--interval", "1")
    assert waiting.stdout is not None
    assert waiting.stdout.readline() == "Waiting for 1 sessions to complete...\n"
    time.sleep(1)  # its first look, right after that line: #1 running
    os.kill(waiting.pid, signal.SIGSTOP)
    try:
        gate.touch()
        wait_for(lambda: (repo.status(1) or {}).get("status") == "error", what="#1 to fail")
        wait_for(lambda: "pi-issue-1" not in list_sessions(pirun), what="#1's session to end")
        assert pirun("cleanup", "1").exit_code == 0
    finally:
        os.kill(waiting.pid, signal.SIGCONT)
    out, err = waiting.communicate(timeout=60)

    assert waiting.returncode == 1, (out, err)
    assert "Session pi-issue-1 completed (error: broke)" in out
    assert "Completed: 0" in out and "Failed: 1" in out


def test_cleanup_force_of_a_running_issue_fails_it_in_the_batch_with_the_reason(
    repo: Any, pirun: Any, agent: Agent, procs: Procs
) -> None:
    configure(repo, {"backend": "process"}, agent)
    repo.add_issue(1, "Runs forever")
    repo.add_issue(2, "Depends on #1", blocked_by=[1])
    agent.set(1, ["note", "start"], ["forever"])
    batch = procs.start("batch", "1", "2", "--interval", "1", "--json")
    wait_for(lambda: agent.starts(1), timeout=60, what="#1 to start")

    forced = pirun("cleanup", "1", "--force")

    assert forced.exit_code == 0, forced.stderr
    out, err = batch.communicate(timeout=60)
    items = results(out)
    assert (items[1]["state"], items[1]["message"]) == ("error", "stopped by cleanup"), err
    assert (items[2]["state"], items[2]["message"]) == ("skipped", "blocked by #1 (error)")
    assert repo.status(1) is None and agent.starts(2) == []
