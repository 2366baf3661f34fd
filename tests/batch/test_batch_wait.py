"""`pirun wait`: block on sessions started elsewhere, then summarise."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pytest
from batchutil import Background, ScriptAgent, add_issues, configure, wait_until

PROCESS = {"backend": "process"}


def start(pirun: Any, *numbers: int) -> None:
    for number in numbers:
        result = pirun("run", str(number), "--no-attach")
        assert result.exit_code == 0, result.stderr


def test_wait_reports_completed_and_failed(
    repo: Any, pirun: Any, agent: ScriptAgent, background: Background, tmp_path: Any,
    backend_config: dict[str, Any],
) -> None:
    configure(repo, backend_config, agent)
    add_issues(repo, {1: [], 2: []})
    gate = tmp_path / "gate"
    agent.set(1, until=str(gate)).set(2, until=str(gate), action="error", message="no luck")
    start(pirun, 1, 2)

    waiting = background.start("wait", "1", "2")
    wait_until(lambda: agent.started(1) and agent.started(2), what="both agents to start")
    assert waiting.running()  # both still running: wait cannot have returned
    gate.touch()
    code, out, err = waiting.finish()

    assert code == 1, (out, err)
    lines = out.splitlines()
    assert lines[0] == "Waiting for 2 sessions to complete..."
    assert "Session pi-issue-1 completed (success)" in lines
    assert "Session pi-issue-2 completed (error: no luck)" in lines
    assert lines[-3:] == ["Summary:", "  Completed: 1", "  Failed: 1"]


def test_wait_all_complete_exits_0_and_unknown_issues_count_as_done(
    repo: Any, pirun: Any, agent: ScriptAgent
) -> None:
    configure(repo, PROCESS, agent)
    add_issues(repo, {1: []})
    agent.set(1, sleep=0.3)
    start(pirun, 1)

    # #77 has neither a status record nor a session: already done.
    result = pirun("wait", "1", "77")

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stdout.splitlines()[-3:] == ["Summary:", "  Completed: 2", "  Failed: 0"]
    assert repo.status(1)["status"] == "complete"


def test_wait_timeout_exits_2(repo: Any, pirun: Any, agent: ScriptAgent) -> None:
    configure(repo, PROCESS, agent)
    add_issues(repo, {1: []})
    agent.set(1, forever=True)
    start(pirun, 1)

    result = pirun("wait", "1", "--timeout", "1", "--json")

    assert result.exit_code == 2, (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert data == {
        "completed": [], "failed": {}, "pending": [1], "timed_out": True, "interrupted": False
    }
    assert repo.status(1)["status"] == "running"


def test_wait_fail_fast_returns_at_the_first_failure(
    repo: Any, pirun: Any, agent: ScriptAgent
) -> None:
    configure(repo, PROCESS, agent)
    add_issues(repo, {1: [], 2: []})
    agent.set(1, forever=True).set(2, action="error")
    start(pirun, 1, 2)

    # Without --fail-fast this would wait for #1 forever (the subprocess timeout).
    result = pirun("wait", "1", "2", "--fail-fast", timeout=60)

    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Session pi-issue-2 completed (error: scripted failure)" in result.stdout
    assert result.stdout.splitlines()[-4:] == [
        "Summary:", "  Completed: 0", "  Failed: 1", "  Still running: 1"
    ]
    assert repo.status(1)["status"] == "running"


def test_running_record_without_a_session_is_a_vanished_session(
    repo: Any, pirun: Any, agent: ScriptAgent
) -> None:
    configure(repo, PROCESS, agent)
    add_issues(repo, {5: []})
    status_dir = repo.path / ".worktrees" / ".status"
    status_dir.mkdir(parents=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (status_dir / "5.json").write_text(json.dumps(
        {"issue": 5, "status": "running", "session": "pi-issue-5", "timestamp": stamp}
    ))

    result = pirun("wait", "5")

    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Session pi-issue-5 completed (error: session vanished)" in result.stdout
    assert result.stdout.splitlines()[-3:] == ["Summary:", "  Completed: 0", "  Failed: 1"]
    assert repo.status(5)["status"] == "error"
    assert repo.status(5)["error_message"] == "session vanished"


@pytest.mark.parametrize(
    "args",
    [["wait"], ["wait", "x1"], ["wait", "1", "--timeout", "-1"], ["wait", "1", "--interval", "0"],
     ["wait", "1", "--timeout", "abc"]],
    ids=["no-issues", "non-numeric", "negative-timeout", "zero-interval", "bad-timeout"],
)
def test_wait_usage_errors_exit_3(repo: Any, pirun: Any, agent: ScriptAgent,
                                  args: list[str]) -> None:
    configure(repo, PROCESS, agent)
    result = pirun(*args)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr


def test_wait_ctrl_c_prints_the_summary_and_leaves_sessions_running(
    repo: Any, pirun: Any, agent: ScriptAgent, background: Background
) -> None:
    configure(repo, PROCESS, agent)
    add_issues(repo, {1: []})
    agent.set(1, forever=True)
    start(pirun, 1)
    wait_until(lambda: agent.started(1), what="#1 to start")

    waiting = background.start("wait", "1")
    wait_until(lambda: waiting.stdout().startswith("Waiting for 1 sessions"),
               what="wait to start")
    waiting.proc.send_signal(signal.SIGINT)
    code, out, err = waiting.finish(timeout=30)

    assert code == 130, (out, err)
    assert out.splitlines()[-5:] == [
        "Interrupted: the sessions are left running.",
        "Summary:", "  Completed: 0", "  Failed: 0", "  Still running: 1",
    ]
    assert "Traceback" not in err
    assert repo.status(1)["status"] == "running"
    assert "pi-issue-1" in pirun("list").stdout
