"""`pirun batch` runs for real: order, limits, failures, timeouts, outside blockers."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
from typing import Any

import pytest
from batchutil import SEED, ScriptAgent, add_issues, configure, wait_until

PROCESS = {"backend": "process"}


def results(stdout: str) -> dict[int, dict[str, Any]]:
    return {item["issue"]: item for item in json.loads(stdout)["results"]}


def test_seed_batch_runs_every_issue_after_its_blockers(
    repo: Any, pirun: Any, agent: ScriptAgent, backend_config: dict[str, Any]
) -> None:
    configure(repo, backend_config, agent, max_concurrent=2)
    add_issues(repo, SEED)

    result = pirun("batch", "42", "43", "44", "45", "46", "--json")

    assert result.exit_code == 0, (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert data["layers"] == [[42, 43], [44, 45], [46]]
    assert data["summary"]["complete"] == 5
    assert data["interrupted"] is False
    items = results(result.stdout)
    assert {n: item["layer"] for n, item in items.items()} == {
        42: 0, 43: 0, 44: 1, 45: 1, 46: 2
    }
    for number, blockers in SEED.items():
        assert items[number]["state"] == "complete"
        assert repo.status(number)["status"] == "complete"
        assert len(agent.starts(number)) == 1, f"#{number} ran more than once"
        assert (repo.path / ".worktrees" / f"issue-{number}-issue-{number}").is_dir()
        for blocker in blockers:
            # The agent started after its blocker's agent finished, and the batch
            # started the issue after it saw the blocker complete.
            assert agent.starts(number)[0] > agent.ends(blocker)[0]
            assert items[number]["started"] >= items[blocker]["finished"]
    assert agent.max_overlap() <= 2


def test_max_concurrent_is_never_exceeded(repo: Any, pirun: Any, agent: ScriptAgent) -> None:
    configure(repo, PROCESS, agent, max_concurrent=2)
    add_issues(repo, {n: [] for n in range(1, 7)})
    # #1 and #2 each wait for the other to start: they can only finish if the batch
    # really runs two at once. The rest are quick.
    agent.set(1, until_event="start 2 ").set(2, until_event="start 1 ")
    agent.default = {"sleep": 0.1}
    agent.save()

    result = pirun("batch", *(str(n) for n in range(1, 7)), "--json")

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert all(item["state"] == "complete" for item in results(result.stdout).values())
    assert agent.max_overlap() == 2


#: A worktree setup command that waits until `count` issues' setups have begun.
RENDEZVOUS = """
import os, sys, time
where, count = sys.argv[1], int(sys.argv[2])
open(os.path.join(where, os.path.basename(os.getcwd())), "w").close()
deadline = time.monotonic() + 60
while len(os.listdir(where)) < count:
    if time.monotonic() > deadline:
        sys.exit("the other issues never started")
    time.sleep(0.02)
"""


def test_ready_issues_are_started_at_the_same_time_not_one_after_another(
    repo: Any, pirun: Any, agent: ScriptAgent, tmp_path: Any
) -> None:
    # Each start's setup waits for the other three to begin: a batch starting one
    # issue after another would fail the first with "setup failed".
    arrived = tmp_path / "arrived"
    arrived.mkdir()
    setup = [sys.executable, "-c", RENDEZVOUS, str(arrived), "4"]
    configure(repo, PROCESS, agent, max_concurrent=4, worktree={"setup": [setup]})
    add_issues(repo, {n: [] for n in range(1, 5)})

    result = pirun("batch", "1", "2", "3", "4", "--json")

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert [item["state"] for item in results(result.stdout).values()] == ["complete"] * 4
    assert sorted(path.name for path in arrived.iterdir()) == [
        f"issue-{n}-issue-{n}" for n in range(1, 5)
    ]


def test_sequential_runs_one_at_a_time_and_quiet_prints_only_the_summary(
    repo: Any, pirun: Any, agent: ScriptAgent
) -> None:
    configure(repo, PROCESS, agent, max_concurrent=5)
    add_issues(repo, {1: [], 2: [], 3: [], 4: [1]})
    agent.default = {"sleep": 0.1}
    agent.save()

    result = pirun("-q", "batch", "1", "2", "3", "4", "--sequential")

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert agent.max_overlap() == 1
    assert [e.issue for e in agent.events() if e.kind == "start"] == [1, 2, 3, 4]
    lines = result.stdout.splitlines()
    assert not any(line.startswith("Layer") for line in lines)
    assert not any(re.match(r"\[\d\d:\d\d:\d\d\]", line) for line in lines)
    assert lines[-1] == (
        "Summary: 4 complete, 0 failed, 0 skipped, 0 still running, 0 not started"
    )
    assert result.stderr == ""


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict-layers"])
def test_strict_layers_waits_for_the_whole_layer(
    repo: Any, pirun: Any, agent: ScriptAgent, strict: bool
) -> None:
    configure(repo, PROCESS, agent)
    # #1 is slow, #2 fast, #3 needs only #2.
    add_issues(repo, {1: [], 2: [], 3: [2]})
    if strict:
        agent.set(1, sleep=0.5)
    else:
        # Finishes only once #3 has finished: that can only happen if #3 did not
        # wait for the rest of layer 0.
        agent.set(1, until_event="end 3 ")

    result = pirun("batch", "1", "2", "3", "--json", *(["--strict-layers"] if strict else []))

    assert result.exit_code == 0, (result.stdout, result.stderr)
    if strict:
        assert agent.starts(3)[0] > agent.ends(1)[0]
    else:
        assert agent.starts(3)[0] < agent.ends(1)[0]


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("keep_going", [False, True], ids=["stop", "continue-on-error"])
def test_a_failure_skips_its_dependents(
    repo: Any, pirun: Any, agent: ScriptAgent, backend_config: dict[str, Any], keep_going: bool
) -> None:
    configure(repo, backend_config, agent, max_concurrent=2)
    # Layer 0 runs in number order, two at a time: #1 and #3 first.
    add_issues(repo, {1: [], 2: [1], 3: [], 4: [], 5: [], 6: [2]})
    agent.set(1, action="error", message="the tests asked for it")
    # Still running when #1 fails: it must be left to finish.
    agent.set(3, until_event="end 1 ", sleep=0.3)

    args = ["batch", "1", "2", "3", "4", "5", "6"]
    result = pirun(*args, *(["--continue-on-error"] if keep_going else []))

    assert result.exit_code == 1, (result.stdout, result.stderr)
    out = result.stdout
    # Plain output (not a terminal): one line per event, then the summary.
    assert re.search(r"^\[\d\d:\d\d:\d\d\] #1 running$", out, re.M), out
    assert re.search(
        r"^\[\d\d:\d\d:\d\d\] #1 error after \S+ \(the tests asked for it\)$", out, re.M
    ), out
    assert re.search(r"^\[\d\d:\d\d:\d\d\] #2 skipped \(blocked by #1 \(error\)\)$", out, re.M)
    assert re.search(r"^\[\d\d:\d\d:\d\d\] #6 skipped \(blocked by #1 \(error\)\)$", out, re.M)
    assert repo.status(1)["status"] == "error"
    assert repo.status(1)["error_message"] == "the tests asked for it"
    assert repo.status(2) is None and repo.status(6) is None
    assert not agent.started(2) and not agent.started(6)
    assert repo.status(3)["status"] == "complete"
    if keep_going:
        for number in (4, 5):
            assert repo.status(number)["status"] == "complete"
        assert "Summary: 3 complete, 1 failed, 2 skipped, 0 still running, 0 not started" in out
    else:
        for number in (4, 5):
            assert not agent.started(number)
            assert repo.status(number) is None
            assert re.search(
                rf"^\[\d\d:\d\d:\d\d\] #{number} skipped \(not started: #1 failed\)$", out, re.M
            )
        assert "Summary: 1 complete, 1 failed, 4 skipped, 0 still running, 0 not started" in out


@pytest.mark.parametrize("code", [3, 0], ids=["exit-3", "exit-0-no-marker"])
def test_exit_code_decides_without_a_marker(
    repo: Any, pirun: Any, agent: ScriptAgent, code: int
) -> None:
    configure(repo, PROCESS, agent)
    add_issues(repo, {1: [], 2: [1]})
    agent.set(1, action="exit", code=code)

    result = pirun("batch", "1", "2", "--json")

    items = results(result.stdout)
    if code:
        assert result.exit_code == 1
        assert items[1]["state"] == "error"
        assert items[1]["message"] == "agent exited with code 3: scripted agent working on #1"
        assert items[2]["state"] == "skipped"
    else:
        assert result.exit_code == 0
        assert items[2]["state"] == "complete"


@pytest.mark.slow
def test_timeout_fails_the_issue(
    repo: Any, pirun: Any, agent: ScriptAgent, backend_config: dict[str, Any]
) -> None:
    configure(repo, backend_config, agent)
    add_issues(repo, {1: [], 2: [1]})
    agent.set(1, forever=True)

    result = pirun("batch", "1", "2", "--timeout", "2", "--json")

    assert result.exit_code == 1, (result.stdout, result.stderr)
    items = results(result.stdout)
    assert items[1]["state"] == "error"
    assert items[1]["message"] == "timed out after 2 s"
    assert items[2]["state"] == "skipped"
    assert repo.status(1)["error_message"] == "timed out after 2 s"
    # The agent was stopped with its session.
    wait_until(lambda: pirun("list", "--json").stdout.strip() == "[]", timeout=20,
               what="the timed-out session to go away")


# -- blockers outside the batch -------------------------------------------------------------------


@pytest.mark.slow
def test_open_blocker_outside_the_batch_skips_the_issue(
    repo: Any, pirun: Any, agent: ScriptAgent
) -> None:
    configure(repo, PROCESS, agent)
    repo.add_issue(8, "closed, not in the batch", state="closed")
    repo.add_issue(9, "open, not in the batch")
    repo.add_issue(5, "blocked by open #9", blocked_by=[9])
    repo.add_issue(6, "blocked by closed #8", blocked_by=[8])
    repo.add_issue(7, "blocked by #5", blocked_by=[5])

    result = pirun("batch", "5", "6", "7")

    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert re.search(r"#5 skipped \(blocked by #9 \(OPEN\)\)", result.stdout), result.stdout
    assert re.search(r"#7 skipped \(blocked by #5\)", result.stdout), result.stdout
    assert repo.status(6)["status"] == "complete"
    assert not agent.started(5) and not agent.started(7)

    again = pirun("batch", "5", "6", "7", "--ignore-blockers", "--json")

    assert again.exit_code == 0, (again.stdout, again.stderr)
    items = results(again.stdout)
    assert items[6]["message"] == "complete in an earlier run"
    assert items[5]["state"] == items[7]["state"] == "complete"
    assert len(agent.starts(6)) == 1


def run_in_pty(args: list[str], cwd: Any) -> tuple[int, str]:
    """Run `pirun ARGS` with a terminal for its stdin/stdout/stderr; (exit code, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "pirun", *args], cwd=cwd,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_live_table_on_a_terminal(repo: Any, pirun: Any, agent: ScriptAgent) -> None:
    configure(repo, PROCESS, agent)
    add_issues(repo, {1: [], 2: [1]})
    agent.set(1, sleep=0.5)

    code, output = run_in_pty(["batch", "1", "2"], repo.path)

    assert code == 0, output
    # A rich table (box drawing, columns) rather than one line per event.
    assert "Last output" in output and "│" in output
    assert not re.search(r"\[\d\d:\d\d:\d\d\] #1 running", output)
    assert "Summary: 2 complete, 0 failed, 0 skipped, 0 still running, 0 not started" in output


def test_base_and_workflow_reach_the_agent(repo: Any, pirun: Any, agent: ScriptAgent) -> None:
    configure(repo, PROCESS, agent)
    add_issues(repo, {1: []})
    repo.git("checkout", "-q", "-b", "dev")
    (repo.path / "only-on-dev.txt").write_text("dev\n")
    repo.git("add", "only-on-dev.txt")
    repo.git("commit", "-q", "-m", "dev work")
    repo.git("checkout", "-q", "main")
    workflows = repo.path / ".pirun" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "terse.md").write_text("TERSE WORKFLOW for #$number: $title\n")
    agent.set(1, report=True)

    result = pirun("batch", "1", "--base", "dev", "--workflow", "terse")

    assert result.exit_code == 0, (result.stdout, result.stderr)
    seen = agent.seen(1)
    assert "only-on-dev.txt" in seen["files"]
    assert seen["prompt"] == "TERSE WORKFLOW for #1: Issue 1\n"


def test_a_session_that_vanishes_is_noticed_by_the_polling_fallback(
    repo: Any, pirun: Any, agent: ScriptAgent, background: Any
) -> None:
    configure(repo, PROCESS, agent)
    add_issues(repo, {1: [], 2: [1]})
    agent.set(1, forever=True)

    batch = background.start("batch", "1", "2", "--interval", "0.5")
    wait_until(lambda: agent.started(1), what="#1 to start")
    # Kill the session without anyone writing a result: the exec wrapper (which
    # leads the session's process group) and the agent, both with SIGKILL.
    session = json.loads(
        (repo.path / ".worktrees" / ".run" / "sessions" / "pi-issue-1.json").read_text()
    )
    os.killpg(session["pid"], signal.SIGKILL)
    os.kill(agent.events()[0].pid, signal.SIGKILL)
    code, out, err = batch.finish(timeout=30)

    assert code == 1, (out, err)
    assert "#1 error" in out and "(session vanished)" in out
    assert "#2 skipped (blocked by #1 (error))" in out
    assert repo.status(1)["error_message"] == "session vanished"
