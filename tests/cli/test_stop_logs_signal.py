"""`pirun stop`, `pirun logs [-f]` and `pirun signal` used from outside a session."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from clitools import (
    assert_error,
    kill_session_externally,
    process_gone,
    session_gone,
    wait_for,
    wait_for_log,
    wait_for_status,
)


def test_stop(repo, pirun, configure, agent, backend_config):
    configure(agent={"command": agent.command("sleep")})
    repo.add_issue(1, "Stop me")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    ((agent_pid, wrapper_pid),) = agent.wait_pids(1)
    # No terminal here: attaching is refused in one line, the session untouched.
    assert_error(pirun("attach", "1"), 1, "terminal")
    assert not session_gone(backend_config, 1, wrapper_pid)

    result = pirun("stop", "1")

    assert result.exit_code == 0, result.stderr
    assert "Stopped pi-issue-1" in result.stdout
    assert pirun("status", "1").stdout.splitlines() == [
        "Issue #1: error", "Error: stopped by user",
    ]
    assert session_gone(backend_config, 1, wrapper_pid)
    wait_for(lambda: process_gone(agent_pid), what="the agent to be gone")

    again = pirun("stop", "1")
    assert again.exit_code == 0
    assert "No session for issue #1" in again.stdout
    assert repo.status(1)["error_message"] == "stopped by user"


def test_logs_strip_escapes(repo, pirun, configure, agent):
    configure(agent={"command": agent.command("color")})
    repo.add_issue(1, "Colours")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    wait_for_status(repo, 1, "complete")

    plain = pirun("logs", "1")

    assert plain.exit_code == 0, plain.stderr
    assert "red text" in plain.stdout
    assert "plain bold text" in plain.stdout
    assert "\x1b" not in plain.stdout and "\x07" not in plain.stdout
    assert "\r" not in plain.stdout

    raw = pirun("logs", "1", "--raw")
    assert "\x1b[31mred text" in raw.stdout


@pytest.mark.slow
def test_logs_follow_returns_when_the_run_ends(repo, pirun, configure, agent, tmp_path):
    configure(agent={"command": agent.command("gate")})
    repo.add_issue(1, "Follow me")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    wait_for_log(repo, 1, "line one")
    output = tmp_path / "follow.out"

    with output.open("wb") as sink:
        follower = subprocess.Popen(
            [sys.executable, "-m", "pirun", "logs", "1", "-f"], cwd=repo.path,
            stdout=sink, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=os.environ,
        )
        try:
            wait_for(lambda: b"line one" in output.read_bytes(), what="the log so far")
            assert follower.poll() is None, "logs -f returned while the agent still runs"

            agent.open_gate(1)

            assert follower.wait(timeout=30) == 0, follower.stderr.read()
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()
    text = output.read_text()
    assert text.index("line one") < text.index("line two") < text.index("done")
    assert repo.status(1)["status"] == "complete"


@pytest.mark.slow
def test_logs_follow_returns_when_the_session_vanishes(
    repo, pirun, configure, agent, backend_config, tmp_path
):
    configure(agent={"command": agent.command("sleep")})
    repo.add_issue(1, "Vanish while followed")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    ((_, wrapper_pid),) = agent.wait_pids(1)
    wait_for_log(repo, 1, "sleeping")
    output = tmp_path / "follow.out"

    with output.open("wb") as sink:
        follower = subprocess.Popen(
            [sys.executable, "-m", "pirun", "logs", "1", "-f"], cwd=repo.path,
            stdout=sink, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=os.environ,
        )
        try:
            wait_for(lambda: b"sleeping" in output.read_bytes(), what="the log so far")
            kill_session_externally(backend_config, 1, wrapper_pid)

            # Nobody else runs a pirun command: the follower itself must notice.
            assert follower.wait(timeout=30) == 0, follower.stderr.read()
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()
    record = repo.status(1)
    assert (record["status"], record["error_message"]) == ("error", "session vanished")


def test_signal_needs_an_issue_and_a_running_record(repo, pirun):
    repo.write_config(backend="process")
    repo.add_issue(1, "Nothing runs")
    env = {"PIRUN_ISSUE": ""}

    assert_error(pirun("signal", "complete", env=env), 3, "no issue")
    assert_error(pirun("signal", "done", "--issue", "1"), 3, "complete or error")
    assert_error(pirun("signal", "complete", "--issue", "1"), 1, "no running session")
    assert_error(pirun("signal", "error", "oops", "--issue", "x"), 3,
                 "not an issue key of the local tracker: 'x'")
