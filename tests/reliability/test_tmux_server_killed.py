"""The tmux server dies (SIGKILL) under a running batch: the issues whose sessions
it held become `error: session vanished`, their agents do not live on, the batch
goes on with the rest on a fresh server, another repository's tmux server is not
touched, and `pirun cleanup --orphaned` tidies up what is left."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from reliabilityutil import (
    Agent,
    Procs,
    alive,
    branches,
    configure,
    git_worktrees,
    list_sessions,
    records,
    results,
    tmux_sessions,
    wait_for,
)

pytestmark = pytest.mark.reliability


def server_pid(socket: str) -> int:
    out = subprocess.run(["tmux", "-L", socket, "display-message", "-p", "#{pid}"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def other_repo(tmp_path: Path) -> Path:
    path = tmp_path / "other"
    path.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "i"]):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    return path


@pytest.mark.slow
def test_tmux_server_killed_under_a_running_batch(
    repo: Any, pirun: Any, agent: Agent, procs: Procs, tmux_socket: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    configure(repo, {"backend": "tmux", "tmux": {"socket_name": tmux_socket}}, agent,
              parallel={"max_concurrent": 3})
    for n in range(1, 7):
        repo.add_issue(n, f"Issue {n}")
    repo.add_issue(7, "Issue 7", blocked_by=[2])
    for n in (2, 3, 4):
        agent.set(n, ["note", "start"], ["wait", str(gate)],
                  ["print", "###TASK_COMPLETE_{n}###"])

    # Another repository, on its own tmux server, with an agent running throughout.
    other = other_repo(tmp_path)
    other_socket = f"pirun-test-{uuid.uuid4().hex[:10]}"
    other_agent = Agent(tmp_path / "other-agent")
    other_agent.set(1, ["note", "start"], ["wait", str(gate)],
                    ["print", "###TASK_COMPLETE_{n}###"])
    (other / ".pirun.yaml").write_text(yaml.safe_dump({
        "backend": "tmux", "tmux": {"socket_name": other_socket},
        "agent": {"command": other_agent.command()},
    }))
    (other / ".pirun" / "issues").mkdir(parents=True)
    (other / ".pirun" / "issues" / "1.md").write_text("---\ntitle: Elsewhere\n---\n")
    try:
        assert pirun("run", "1", "--no-attach", cwd=other).exit_code == 0
        batch = procs.start("batch", *map(str, range(1, 8)), "--continue-on-error",
                            "--interval", "1", "--json")
        wait_for(lambda: all(agent.events("start", n) for n in (2, 3, 4)), timeout=60,
                 what="#2, #3 and #4 to run")
        wait_for(lambda: (repo.status(1) or {}).get("status") == "complete",
                 what="#1 to complete")
        wait_for(lambda: other_agent.events("start", 1), what="the other repo's agent")
        victims = [agent.events("start", n)[0].pid for n in (2, 3, 4)]

        os.kill(server_pid(tmux_socket), signal.SIGKILL)
        out, err = batch.communicate(timeout=120)

        assert batch.returncode == 1, (out, err)
        items = results(out)
        assert {n: (i["state"], i["message"]) for n, i in items.items()} == {
            1: ("complete", None),
            2: ("error", "session vanished"),
            3: ("error", "session vanished"),
            4: ("error", "session vanished"),
            5: ("complete", None),
            6: ("complete", None),
            7: ("skipped", "blocked by #2 (error)"),
        }
        for n in (2, 3, 4):
            assert repo.status(n)["error_message"] == "session vanished"
        # #5 and #6 ran on a new server after the crash.
        assert min(agent.starts(5) + agent.starts(6)) > max(agent.starts(4))
        # No agent outlives its session.
        for pid in victims:
            wait_for(lambda pid=pid: not alive(pid), what=f"agent {pid} to end")

        # The other repository's server and session were not touched.
        assert tmux_sessions(other_socket) == ["pi-issue-1"]
        assert pirun("status", "1", cwd=other).stdout.strip() == "Issue #1: running"

        tidy = pirun("cleanup", "--orphaned")

        assert tidy.exit_code == 0, (tidy.stdout, tidy.stderr)
        assert list_sessions(pirun) == []
        assert git_worktrees(repo) == [repo.path]
        assert records(repo) == {}
        # Orphans keep their branches: they may hold the only copy of finished work.
        assert branches(repo) == [f"issue-{n}-issue-{n}" for n in range(1, 7)]

        gate.touch()
        wait_for(lambda: pirun("status", "1", cwd=other).stdout.strip()
                 == "Issue #1: complete", what="the other repo's issue to complete")
    finally:
        subprocess.run(["tmux", "-L", other_socket, "kill-server"], capture_output=True)
        other_agent.kill_all()


def test_session_started_while_the_tmux_server_exits(repo: Any, tmux_socket: str) -> None:
    """When its last session ends, a tmux server exits; a `new-session` reaching it
    then gets "server exited unexpectedly" (about 1 start in 25 in this loop). That
    is the moment a batch (or another `pirun run`) starts the next issue after the
    last running one finished: the start must still succeed, on a new server."""
    from pirun.model import SessionSpec
    from pirun.runtime import Runtime

    repo.write_config(backend="tmux", tmux={"socket_name": tmux_socket})
    backend = Runtime.load(repo.path).backend
    rng = random.Random(6)
    for i in range(60):
        backend.start(SessionSpec(f"pi-issue-{2 * i}", ("sleep", "0.05"), repo.path))
        time.sleep(rng.uniform(0.03, 0.08))
        backend.start(SessionSpec(f"pi-issue-{2 * i + 1}", ("sleep", "0.01"), repo.path))
        time.sleep(0.1)
