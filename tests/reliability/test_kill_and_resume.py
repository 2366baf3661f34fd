"""`kill -9` of `pirun batch`, again and again at different moments, then the same
command once more: no issue runs twice, completed work is kept, the batch finishes.

tests/batch/test_batch_resume.py kills a small batch once, at one chosen moment;
this kills a limited, layered batch three times (while it starts, while agents
run, while results arrive) under both backends, and checks every agent's run
count, the order, and the commits each agent left.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from reliabilityutil import (
    Agent,
    Procs,
    branches,
    configure,
    records,
    results,
    wait_for,
)

from pirun import procfs

pytestmark = pytest.mark.reliability

#: issue: blockers. Three layers; the limit of 4 keeps issues queued behind others.
GRAPH: dict[int, list[int]] = {
    1: [], 2: [], 3: [], 4: [], 5: [], 6: [],
    7: [1], 8: [2, 3], 9: [4], 10: [5], 11: [6],
    12: [7, 8], 13: [9], 14: [10, 11],
}


def working_agent(agent: Agent) -> None:
    """Each agent works a little (0.2-0.9 s), commits, then prints its marker."""
    for n in GRAPH:
        agent.set(
            n,
            ["note", "start"],
            ["sleep", 0.2 + (n * 7 % 8) / 10],
            ["commit", f"work-{n}.txt"],
            ["note", "end"],
            ["print", "###TASK_COMPLETE_{n}###"],
        )


def kill9(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_batch_killed_with_9_three_times_then_rerun_runs_each_issue_once(
    repo: Any, pirun: Any, agent: Agent, procs: Procs, backend_config: dict[str, Any]
) -> None:
    configure(repo, backend_config, agent, parallel={"max_concurrent": 4})
    for n, blockers in GRAPH.items():
        repo.add_issue(n, f"Issue {n}", body=f"Work on {n}.", blocked_by=blockers)
    working_agent(agent)
    command = ["batch", *map(str, GRAPH), "--interval", "1"]

    # 1: while the batch loads and starts its first sessions.
    first = procs.start(*command)
    wait_for(lambda: agent.events("start"), what="a first agent to start")
    kill9(first)
    # 2: while agents run: right after a new one started.
    started = len(agent.events("start"))
    second = procs.start(*command)
    wait_for(lambda: len(agent.events("start")) > started, timeout=60,
             what="another agent to start")
    kill9(second)
    # 3: while results arrive: right after more agents finished.
    ended = len(agent.events("end"))
    third = procs.start(*command)
    wait_for(lambda: len(agent.events("end")) >= ended + 2, timeout=60,
             what="two more agents to finish")
    kill9(third)

    final = pirun(*command, "--json", timeout=180)

    assert final.exit_code == 0, (final.stdout, final.stderr)
    items = results(final.stdout)
    assert {n: item["state"] for n, item in items.items()} == {n: "complete" for n in GRAPH}
    assert any(item["resumed"] for item in items.values())
    for n, blockers in GRAPH.items():
        starts = agent.events("start", n)
        assert len(starts) == 1, f"#{n} ran {len(starts)} times"
        for blocker in blockers:
            (end,) = agent.events("end", blocker)
            assert starts[0].time > end.time, (n, blocker)
    # Completed work is kept: every branch holds its agent's commit.
    assert branches(repo) == sorted(f"issue-{n}-issue-{n}" for n in GRAPH)
    for n in GRAPH:
        files = repo.git("ls-tree", "--name-only", f"issue-{n}-issue-{n}")
        assert f"work-{n}.txt" in files.split(), n
    assert {n: r["status"] for n, r in records(repo).items()} == {n: "complete" for n in GRAPH}
    run_dir = repo.path / ".worktrees" / ".run"
    assert sorted(run_dir.glob("*.starting")) == []


def test_batch_killed_between_process_start_and_its_record_does_not_run_twice(
    repo: Any, pirun: Any, agent: Agent, tmp_path: Path
) -> None:
    """The session's process exists before its record: a pirun killed in between
    leaves a process nobody lists. It waits behind the process backend's gate for
    pirun's go, gets end-of-file instead and exits without starting the agent; the
    next batch finds the run vanished and starts the issue, once."""
    configure(repo, {"backend": "process"}, agent)
    repo.add_issue(1, "Once")
    gate = tmp_path / "gate"
    agent.set(1, ["note", "start"], ["wait", str(gate)], ["commit", "work.txt"],
              ["print", "###TASK_COMPLETE_{n}###"])
    # The real CLI, SIGKILLed by itself at the worst moment: the session's process
    # runs, its record is not written yet.
    crash = tmp_path / "crash.py"
    crash.write_text(
        "import os, signal, sys\n"
        "import pirun_process\n"
        "def write(self, record):\n"
        "    print(record.pid, record.start_time, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "pirun_process.ProcessBackend._write = write\n"
        "from pirun.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    killed = subprocess.run([sys.executable, str(crash), "batch", "1"], cwd=repo.path,
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    pid, start_time = map(int, killed.stdout.split()[-2:])
    first_run = repo.status(1)
    assert first_run is not None and first_run["status"] == "running"
    # That process existed, unrecorded; it ends on its own without running the agent.
    wait_for(lambda: not procfs.is_alive(procfs.ProcId(pid, start_time)),
             what="the unrecorded session's process to exit")

    rerun = subprocess.Popen([sys.executable, "-m", "pirun", "batch", "1", "--json"],
                             cwd=repo.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        # Time for a second agent to start, if anything were to start one.
        time.sleep(3)
        gate.touch()
        out, err = rerun.communicate(timeout=60)
    finally:
        if rerun.poll() is None:
            rerun.kill()
            rerun.communicate()
    assert rerun.returncode == 0, (out, err)
    assert json.loads(out)["summary"]["complete"] == 1
    assert len(agent.events("start", 1)) == 1
    record = repo.status(1)
    assert record["status"] == "complete" and record["run_id"] != first_run["run_id"]
    assert "work.txt" in repo.git("ls-tree", "--name-only", "issue-1-once").split()
