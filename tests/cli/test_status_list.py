"""`pirun status` and `pirun list`, as text and as JSON, against the status records."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from clitools import ISO_UTC, wait_for_status

CONTRACT_KEYS = {"issue", "status", "session", "timestamp"}


def _check_shape(record: dict, issue: int, status: str, message: str | None = None) -> None:
    assert set(record) >= CONTRACT_KEYS, record
    assert record["issue"] == issue and isinstance(record["issue"], int)
    assert record["status"] == status
    assert record["session"] == f"pi-issue-{issue}"
    assert ISO_UTC.fullmatch(record["timestamp"]), record["timestamp"]
    if status == "error":
        assert record["error_message"] == message
    else:
        assert "error_message" not in record


@pytest.mark.slow
def test_status_text_and_json(repo, pirun, agent):
    """Formatting only: the backend plays no part, so the process backend alone."""
    repo.write_config(backend="process", agent={"command": agent.command("auto")})
    for n, mode in ((1, "exit0"), (2, "exit3"), (3, "sleep")):
        repo.add_issue(n, f"Issue {n}", body=f"agent-mode: {mode}\n")
        assert pirun("run", str(n), "--no-attach").exit_code == 0
    wait_for_status(repo, 1, "complete")
    wait_for_status(repo, 2, "error")
    agent.wait_pids(3)

    assert pirun("status", "1").stdout.splitlines() == ["Issue #1: complete"]
    assert pirun("status", "#2").stdout.splitlines() == [
        "Issue #2: error", "Error: agent exited with code 3: failing",
    ]

    everything = pirun("status")
    assert everything.exit_code == 0
    lines = everything.stdout.splitlines()
    assert len(lines) == 3
    for line, (n, status) in zip(lines, [(1, "complete"), (2, "error"), (3, "running")],
                                 strict=True):
        assert re.match(rf"#?{n}\b.*\b{status}\b", line), line
    assert "agent exited with code 3: failing" in lines[1]

    listed = json.loads(pirun("status", "--json").stdout)
    assert [r["issue"] for r in listed] == [1, 2, 3]
    _check_shape(listed[0], 1, "complete")
    _check_shape(listed[1], 2, "error", "agent exited with code 3: failing")
    _check_shape(listed[2], 3, "running")
    one = json.loads(pirun("status", "2", "--json").stdout)
    _check_shape(one, 2, "error", "agent exited with code 3: failing")

    # The record on disk has the same shape.
    _check_shape(repo.status(2), 2, "error", "agent exited with code 3: failing")
    _check_shape(repo.status(1), 1, "complete")


def test_status_with_nothing_recorded(repo, pirun):
    repo.write_config(backend="process")

    assert pirun("status").exit_code == 0
    assert json.loads(pirun("status", "--json").stdout) == []


@pytest.mark.slow
def test_list_text_and_json(repo, pirun, configure, agent, backend_config):
    configure(agent={"command": agent.command("auto")})
    repo.add_issue(1, "Sleep one", body="agent-mode: sleep\n")
    repo.add_issue(2, "Sleep two", body="agent-mode: sleep\n")
    repo.add_issue(3, "Done", body="agent-mode: exit0\n")
    for n in (1, 2, 3):
        assert pirun("run", str(n), "--no-attach").exit_code == 0
    wait_for_status(repo, 3, "complete")
    agent.wait_pids(1)
    agent.wait_pids(2)
    if backend_config["backend"] == "tmux":
        # Sessions of someone else's on the same server, that merely share the prefix.
        for name in ("pictures", "pi-issue-7-notes"):
            subprocess.run(["tmux", "-L", backend_config["tmux"]["socket_name"],
                            "new-session", "-d", "-s", name, "sleep 600"], check=True)

    text = pirun("list")

    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert lines[0] == "Active sessions (2):", text.stdout
    assert len(lines) == 3
    for line, n, slug in ((lines[1], 1, "sleep-one"), (lines[2], 2, "sleep-two")):
        fields = line.split()
        assert fields[0] == f"pi-issue-{n}"
        assert fields[1] == f".worktrees/issue-{n}-{slug}"
        assert fields[2] == "running"
        assert re.fullmatch(r"\d+[smhd]\S*", fields[3]), line

    rows = json.loads(pirun("list", "--json").stdout)
    assert [row["session"] for row in rows] == ["pi-issue-1", "pi-issue-2"]
    assert rows[0]["worktree"] == ".worktrees/issue-1-sleep-one"
    assert rows[0]["status"] == "running"
    assert isinstance(rows[0]["age_seconds"], int) and rows[0]["age_seconds"] >= 0

    assert pirun("stop", "--all").exit_code == 0
    assert pirun("list").stdout.splitlines() == ["Active sessions (0):"]
