"""`pirun run`: worktree, branch, prompt, session and status; how runs end; the checks
that refuse a start. Real git, real tmux on a private socket, real agent processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import (
    DEMO_ENV,
    ISO_UTC,
    assert_error,
    branches,
    kill_session_externally,
    process_gone,
    session_gone,
    sessions,
    wait_for,
    wait_for_status,
    worktree_dirs,
)

CONTRACT_KEYS = {"issue", "status", "session", "timestamp"}


def test_run_no_attach_creates_worktree_session_prompt_and_status(
    repo, pirun, configure, agent, backend_config
):
    configure(agent={
        "command": agent.command(
            "gate", "{worktree}", "{branch}", "{session}", "{repo}",
            "pre-{issue}-mid-{issue}-post", "two words {branch}", "{unknown}", "$(echo hi)",
        )
    })
    repo.add_issue(1, "Add a Login page!", body="Make the login page work.\n")

    result = pirun("run", "1", "--no-attach")

    assert result.exit_code == 0, result.stderr
    assert "Started pi-issue-1" in result.stdout
    worktree = repo.path / ".worktrees" / "issue-1-add-a-login-page"
    branch = "issue-1-add-a-login-page"
    assert worktree.is_dir()
    assert subprocess.run(
        ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=worktree, capture_output=True,
        text=True, check=True,
    ).stdout.strip() == branch
    assert branches(repo) == [branch]
    prompt = worktree / ".pirun-prompt.md"
    assert "Add a Login page!" in prompt.read_text()
    assert "Make the login page work." in prompt.read_text()

    rows = sessions(pirun)
    assert set(rows) == {"pi-issue-1"}
    assert rows["pi-issue-1"]["worktree"] == ".worktrees/issue-1-add-a-login-page"
    status = pirun("status", "1")
    assert status.stdout.strip() == "Issue #1: running"
    record = repo.status(1)
    assert record["status"] == "running" and record["session"] == "pi-issue-1"
    assert "error_message" not in record
    assert ISO_UTC.fullmatch(record["timestamp"])

    # The agent ran in the worktree, each argv element substituted on its own.
    report = json.loads(wait_for(lambda: (agent.out / "report-1.json").exists()
                                 and (agent.out / "report-1.json").read_text()))
    assert Path(report["cwd"]).resolve() == worktree.resolve()
    assert report["argv"][2:] == [
        "1", str(prompt), str(worktree), branch, "pi-issue-1", str(repo.path),
        "pre-1-mid-1-post", f"two words {branch}", "{unknown}", "$(echo hi)",
    ]
    assert report["env"]["PIRUN_ISSUE"] == "1"

    agent.open_gate(1)
    final = wait_for_status(repo, 1, ("complete", "error"))
    assert final["status"] == "complete", final
    assert set(final) >= CONTRACT_KEYS and "error_message" not in final
    ((_, wrapper),) = agent.pids(1)
    wait_for(lambda: session_gone(backend_config, 1, wrapper), what="the session to end")


def test_run_demo_preset(repo, pirun, backend_config):
    repo.write_config(**backend_config, agent={"preset": "demo"})
    repo.add_issue(2, "Write the docs")

    assert pirun("run", "2", "--no-attach", env=DEMO_ENV).exit_code == 0

    assert wait_for_status(repo, 2, ("complete", "error"))["status"] == "complete"
    log = (repo.path / ".worktrees" / ".logs" / "issue-2.log").read_text()
    assert "###TASK_COMPLETE_2###" in log
    assert repo.git("log", "-1", "--format=%s", "issue-2-write-the-docs") == (
        "demo: work for issue #2"
    )


# issue: (agent mode, expected status, expected error_message)
OUTCOMES = {
    1: ("marker", "complete", None),
    2: ("error-marker", "error", "could not build: missing dependency"),
    3: ("exit0", "complete", None),
    4: ("exit3", "error", "agent exited with code 3: failing"),
    5: ("other-marker", "error", "agent exited with code 5: ###TASK_ERROR_51### not mine"),
    6: ("ansi-split", "complete", None),
    7: ("decoys-then-error", "error", "after the decoys"),
    8: ("signal-complete", "complete", None),
    9: ("signal-error", "error", "tests failed"),
}
MENTION = "The agent prints ###TASK_COMPLETE_{n}### when it is done."
# Marker lines of their own in the prompt: an agent echoing them must not end the run.
# (A marker line that is in the prompt never counts, even when the agent prints it
# for real, so only the decoy test's issue carries these.)
FAKE_MARKERS = "\n".join([
    "###TASK_COMPLETE_{n}###",
    "  ###TASK_ERROR_{n}### fake error from the issue body",
    "```",
    "###TASK_COMPLETE_{n}###",
    "```",
])


@pytest.mark.slow
def test_how_runs_end(repo, pirun, configure, agent, backend_config):
    """Markers, exit codes and `pirun signal`, each on its own issue, all at once.

    Agents that print a marker then sleep prove the marker was seen in the stream;
    agents that print a decoy then a real marker prove the decoy did not count (the
    first outcome wins)."""
    configure(agent={"command": agent.command("auto")})
    for n, (mode, _, _) in OUTCOMES.items():
        fakes = FAKE_MARKERS if mode == "decoys-then-error" else MENTION
        repo.add_issue(n, f"Outcome {mode}", body=f"agent-mode: {mode}\n"
                       + fakes.format(n=n) + "\n")
    for n in OUTCOMES:
        result = pirun("run", str(n), "--no-attach")
        assert result.exit_code == 0, (n, result.stderr)

    for n in OUTCOMES:
        wait_for_status(repo, n, ("complete", "error"))
    actual = {}
    for n in OUTCOMES:
        record = repo.status(n)
        actual[n] = (OUTCOMES[n][0], record["status"], record.get("error_message"))
    assert actual == OUTCOMES

    # The marker alone decided: that agent is still running.
    ((_, wrapper),) = agent.pids(1)
    assert not session_gone(backend_config, 1, wrapper)
    shown = pirun("status", "2")
    assert shown.stdout.splitlines() == [
        "Issue #2: error", "Error: could not build: missing dependency",
    ]


def test_session_killed_externally_is_session_vanished(
    repo, pirun, configure, agent, backend_config
):
    configure(agent={"command": agent.command("sleep")})
    repo.add_issue(1, "Vanish")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    ((agent_pid, wrapper_pid),) = agent.wait_pids(1)

    kill_session_externally(backend_config, 1, wrapper_pid)

    result = pirun("status", "1")
    assert result.stdout.splitlines() == ["Issue #1: error", "Error: session vanished"]
    assert repo.status(1)["error_message"] == "session vanished"
    # The agent does not live on without its session.
    wait_for(lambda: process_gone(agent_pid), what="agent gone")


def test_concurrency_limit(repo, pirun, configure, agent, backend_config):
    configure(agent={"command": agent.command("sleep")}, parallel={"max_concurrent": 1})
    repo.add_issue(1, "First")
    repo.add_issue(2, "Second")
    assert pirun("run", "1", "--no-attach").exit_code == 0

    refused = pirun("run", "2", "--no-attach")

    assert_error(refused, 1, one_line=False)
    lines = refused.stderr.strip().splitlines()
    assert lines[0] == "Error: Maximum concurrent sessions (1) reached."
    assert any("pi-issue-1" in line for line in lines[1:])
    assert repo.status(2) is None
    assert [p.name for p in worktree_dirs(repo)] == ["issue-1-first"]
    assert agent.pids(2) == []

    forced = pirun("run", "2", "--no-attach", "--force")

    assert forced.exit_code == 0, forced.stderr
    for n in (1, 2):
        ((_, wrapper),) = agent.wait_pids(n)
        assert not session_gone(backend_config, n, wrapper)
        assert repo.status(n)["status"] == "running"


def test_concurrency_limit_holds_for_simultaneous_starts(repo, configure, agent, pirun):
    """Three `pirun run` at once with room for one: exactly one starts."""
    configure(agent={"command": agent.command("sleep")}, parallel={"max_concurrent": 1})
    for n in (1, 2, 3):
        repo.add_issue(n, f"Race {n}")

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pirun", "run", str(n), "--no-attach"], cwd=repo.path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )
        for n in (1, 2, 3)
    ]
    results = [(proc.wait(timeout=60), proc.stderr.read()) for proc in procs]

    assert sorted(code for code, _ in results) == [0, 1, 1], results
    for code, stderr in results:
        if code:
            assert stderr.startswith("Error: Maximum concurrent sessions (1) reached."), stderr
    running = [n for n in (1, 2, 3) if repo.status(n) and repo.status(n)["status"] == "running"]
    assert len(running) == 1
    agent.wait_pids(running[0])


@pytest.mark.slow
def test_second_run_of_same_issue(repo, pirun, configure, agent, backend_config):
    configure(agent={"command": agent.command("stale")})
    repo.add_issue(1, "Twice")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    ((old_agent, _),) = agent.wait_pids(1)
    worktree = repo.path / ".worktrees" / "issue-1-twice"
    wait_for(lambda: (worktree / "stale.txt").exists())
    first = repo.status(1)

    again = pirun("run", "1", "--no-attach")

    assert_error(again, 1, "pi-issue-1", "already exists", "--force")
    assert repo.status(1)["run_id"] == first["run_id"]
    assert not process_gone(old_agent)

    configure(agent={"command": agent.command("sleep")})
    forced = pirun("run", "1", "--no-attach", "--force")

    assert forced.exit_code == 0, forced.stderr
    pids = agent.wait_pids(1, count=2)
    wait_for(lambda: process_gone(old_agent), what="the first agent to be gone")
    assert not process_gone(pids[1][0])
    assert not (worktree / "stale.txt").exists()
    # The old run's end is never recorded over the new run.
    record = repo.status(1)
    assert record["status"] == "running" and record["run_id"] != first["run_id"]
    assert not session_gone(backend_config, 1, pids[1][1])


def test_blockers(repo, pirun, agent):
    repo.write_config(backend="process", agent={"command": agent.command("exit0")})
    repo.add_issue(7, "Set up the database")
    repo.add_issue(6, "Old work", state="closed")
    repo.add_issue(8, "Use the database", blocked_by=[7, 6])
    repo.add_issue(9, "After old work", blocked_by=[6])

    blocked = pirun("run", "8", "--no-attach")

    assert_error(blocked, 2, one_line=False)
    assert "#7: Set up the database (OPEN)" in blocked.stderr
    assert "#6" not in blocked.stderr
    assert repo.status(8) is None and worktree_dirs(repo) == []

    assert pirun("run", "9", "--no-attach").exit_code == 0
    ignored = pirun("run", "8", "--no-attach", "--ignore-blockers")
    assert ignored.exit_code == 0, ignored.stderr
    assert wait_for_status(repo, 8, ("complete", "error"))["status"] == "complete"
    assert wait_for_status(repo, 9, ("complete", "error"))["status"] == "complete"


@pytest.mark.parametrize(
    ("args", "exit_code", "fragment"),
    [
        (["run", "42", "--no-attach"], 1, "Issue #42 not found"),
        (["run", "abc", "--no-attach"], 3, "not an issue key of the local tracker: 'abc'"),
        (["run", "0", "--no-attach"], 3, "not an issue key of the local tracker: '0'"),
        (["run"], 3, "Missing argument"),
        (["run", "1", "--bogus"], 3, "--bogus"),
        (["stop"], 3, "give issue keys or --all"),
        (["cleanup"], 3, "give issue keys, --all or --orphaned"),
        (["logs", "5"], 1, "no log for issue #5"),
        (["status", "5"], 1, "no status recorded"),
        (["attach", "5"], 1, "no session for issue #5"),
    ],
)
def test_errors_are_one_line_without_traceback(repo, pirun, args, exit_code, fragment):
    repo.write_config(backend="process")
    repo.add_issue(1, "Exists")

    result = pirun(*args)

    assert_error(result, exit_code, fragment)
    assert result.stderr.startswith("Error: ")


def test_outside_a_git_repository(tmp_path, pirun):
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()

    assert_error(pirun("run", "1", cwd=elsewhere), 3, "not a git repository")


def test_no_tty_never_attaches(repo, pirun, configure, agent, backend_config):
    """Without --no-attach but without a terminal, `run` returns once started."""
    configure(agent={"command": agent.command("sleep")})
    repo.add_issue(1, "Headless")

    result = pirun("run", "1", timeout=30)

    assert result.exit_code == 0, result.stderr
    ((_, wrapper),) = agent.wait_pids(1)
    assert not session_gone(backend_config, 1, wrapper)

