"""Agents that misbehave, all in one batch under each backend: no marker (exit 0,
exit 3, killed by a signal), silence until the timeout, binary junk and invalid
UTF-8, a marker split across two writes with a pause, another issue's marker; and
separately a 50 MB flood. Each ends exactly as documented, none hangs the batch.

Single-issue versions through `pirun run` live in tests/cli (test_run.py
`test_how_runs_end`, the `other-marker`/`ansi-split` modes); the byte-level cases
in tests/kernel/test_terminal.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from reliabilityutil import Agent, alive, configure, figure, list_sessions, results, wait_for

pytestmark = pytest.mark.reliability

MARKER = "###TASK_COMPLETE_{n}###"


@pytest.mark.slow
def test_misbehaving_agents_in_one_batch(
    repo: Any, pirun: Any, agent: Agent, backend_config: dict[str, Any], tmp_path: Path
) -> None:
    configure(repo, backend_config, agent)
    printed = tmp_path / "seven-printed"
    behaviours = {
        1: [["note", "start"], ["print", "done, and no marker"], ["exit", 0]],
        2: [["note", "start"], ["print", "failing, no marker"], ["exit", 3]],
        3: [["note", "start"], ["forever"]],  # never prints anything
        4: [["note", "start"], ["print", "about to crash"], ["kill"]],
        5: [["note", "start"], ["junk", 256], ["print", ""], ["print", MARKER], ["forever"]],
        6: [["note", "start"], ["write", "###TASK_COMP"], ["sleep", 1.0],
            ["write", "LETE_{n}###\r\n"], ["forever"]],
        7: [["note", "start"], ["print", "###TASK_COMPLETE_8###"],
            ["print", "###TASK_ERROR_8### not yours"], ["print", "###TASK_COMPLETE_70###"],
            ["print", "###TASK_COMPLETE_{n}0###"], ["touch", str(printed)], ["exit", 5]],
        8: [["note", "start"], ["wait", str(printed)], ["sleep", 0.5], ["probe", "seen"],
            ["print", MARKER], ["forever"]],
    }
    for n, steps in behaviours.items():
        repo.add_issue(n, f"Issue {n}")
        agent.set(n, *steps)

    result = pirun("batch", *map(str, behaviours), "--timeout", "8", "--continue-on-error",
                   "--interval", "1", "--json", timeout=120)

    assert result.exit_code == 1, (result.stdout, result.stderr)
    items = results(result.stdout)
    assert {n: (i["state"], i["message"]) for n, i in items.items()} == {
        1: ("complete", None),
        2: ("error", "agent exited with code 3: failing, no marker"),
        3: ("error", "timed out after 8 s"),
        4: ("error", "agent killed by signal SIGKILL: about to crash"),
        5: ("complete", None),
        6: ("complete", None),
        7: ("error", "agent exited with code 5: ###TASK_ERROR_8### not yours"),
        8: ("complete", None),
    }
    for n, item in items.items():
        record = repo.status(n)
        assert record["status"] == item["state"]
        assert record.get("error_message") == item["message"]
        assert len(agent.starts(n)) == 1
    # #7 printed #8's markers while #8 was running: #8 was still running after that.
    assert json.loads((agent.out / "seen-8.json").read_text())["status"] == "running"
    # The silent agent was stopped at the timeout, with its session.
    (silent,) = agent.events("start", 3)
    wait_for(lambda: not alive(silent.pid), what="the timed-out agent to end")
    assert "pi-issue-3" not in list_sessions(pirun)
    log = (repo.path / ".worktrees" / ".logs" / "issue-5.log").read_bytes()
    assert len(log) > 256 * 1024 and b"\xff\xfe" in log


@pytest.mark.slow
def test_agent_flooding_50_mb_is_logged_whole_and_its_marker_found(
    repo: Any, pirun: Any, agent: Agent, backend_config: dict[str, Any]
) -> None:
    configure(repo, backend_config, agent)
    repo.add_issue(1, "Flood")
    agent.set(1, ["note", "start"], ["flood", 50], ["print", MARKER], ["forever"])

    result = pirun("batch", "1", "--json", timeout=180)

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert results(result.stdout)[1]["state"] == "complete"
    # Detected by the marker: the agent still runs (it never exits by itself).
    (start,) = agent.events("start", 1)
    assert alive(start.pid)
    log = repo.path / ".worktrees" / ".logs" / "issue-1.log"
    assert log.stat().st_size >= 50 * 1024 * 1024
    # The wrapper (the agent's parent) read 50 MB in bounded memory.
    status = Path(f"/proc/{start.ppid}/status").read_text()
    peak_kb = int(next(line for line in status.splitlines()
                       if line.startswith("VmHWM:")).split()[1])
    figure(f"flood[{backend_config['backend']}] wrapper peak RSS kB", peak_kb)
    assert peak_kb < 200 * 1024, f"wrapper peak RSS {peak_kb} kB"
