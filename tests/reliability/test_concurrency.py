"""Many pirun processes at once: twenty `pirun run` against `max_concurrent: 5`, and
fifty status writers racing the wrappers of a running batch (plus a lock holder
killed with -9) while readers parse every record continuously.

The store-level versions (50 writer processes on one record, a SIGKILLed lock
holder, readers during writes) are tests/plugins/jsonstatus/test_jsonstatus.py;
the limit with two sequential runs is tests/cli/test_run.py::test_concurrency_limit.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from reliabilityutil import (
    Agent,
    Procs,
    configure,
    figure,
    list_sessions,
    records,
    results,
    wait_for,
)

pytestmark = pytest.mark.reliability

LIMIT_FIRST_LINE = "Error: Maximum concurrent sessions (5) reached."


@pytest.mark.slow
def test_twenty_runs_at_once_start_exactly_the_limit(
    repo: Any, pirun: Any, agent: Agent, backend_config: dict[str, Any]
) -> None:
    configure(repo, backend_config, agent, parallel={"max_concurrent": 5})
    agent.default = [["note", "start"], ["forever"]]
    agent.save()
    for n in range(1, 21):
        repo.add_issue(n, f"Issue {n}")

    runs = {
        n: subprocess.Popen(
            [sys.executable, "-m", "pirun", "run", str(n), "--no-attach"], cwd=repo.path,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(1, 21)
    }
    outcome = {n: (proc.wait(timeout=120), *proc.communicate()) for n, proc in runs.items()}

    started = sorted(n for n, (code, _, _) in outcome.items() if code == 0)
    refused = sorted(n for n, (code, _, _) in outcome.items() if code != 0)
    assert len(started) == 5, outcome
    winners = {f"pi-issue-{n}" for n in started}
    for n in refused:
        code, out, err = outcome[n]
        assert code == 1, (n, out, err)
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert lines[0] == LIMIT_FIRST_LINE, err
        assert lines[1] == "Currently running (5 sessions):", err
        assert {line.strip(" -") for line in lines[2:7]} <= winners, err
        assert repo.status(n) is None
    assert list_sessions(pirun) == sorted(winners)
    wait_for(lambda: sorted(e.issue for e in agent.events("start")) == started,
             what="the five agents to start")
    assert sorted(records(repo)) == started
    worktrees = sorted(p.name for p in (repo.path / ".worktrees").glob("issue-*"))
    assert worktrees == sorted(f"issue-{n}-issue-{n}" for n in started)
    assert sorted((repo.path / ".worktrees" / ".run").glob("*.starting")) == []

    # A slot freed is a slot for exactly one more.
    assert pirun("stop", str(started[0])).exit_code == 0
    assert pirun("run", str(refused[0]), "--no-attach").exit_code == 0
    again = pirun("run", str(refused[1]), "--no-attach")
    assert again.exit_code == 1 and again.stderr.startswith(LIMIT_FIRST_LINE), again.stderr


READER = r'''
import json, os, sys, time
from pathlib import Path
status, stop = Path(sys.argv[1]), Path(sys.argv[2])
reads = bad = 0
while not stop.exists():
    for path in status.glob("*.json"):
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue
        try:
            json.loads(text)
            reads += 1
        except ValueError:
            bad += 1
print(json.dumps({"reads": reads, "bad": bad}))
'''

HOLDER = r'''
import fcntl, sys, time
handle = open(sys.argv[1], "a")
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)
'''


def _writer(repo_path: str, index: int, go: Any) -> None:
    """One writer process: record an outcome for every issue, in its own order."""
    from pirun.model import Outcome
    from pirun.outcomes import record_outcome
    from pirun.runtime import Runtime

    rt = Runtime.load(Path(repo_path))
    issues = list(range(1, 11))
    random.Random(index).shuffle(issues)
    go.wait()
    for n in issues:
        current = rt.store.get(str(n))
        outcome = (Outcome.complete("signal") if (index + n) % 2
                   else Outcome.error(f"writer {index}", "signal"))
        record_outcome(rt, str(n), outcome, run_id=current.run_id if current else None)
    os._exit(0)


@pytest.mark.slow
def test_fifty_writers_race_a_running_batch_with_a_stale_lock(
    repo: Any, pirun: Any, agent: Agent, procs: Procs, tmp_path: Path
) -> None:
    hooks_log = tmp_path / "hooks.log"
    hook = ["sh", "-c", f'echo "$PIRUN_ISSUE_NUMBER $PIRUN_STATUS" >> {hooks_log}']
    gate = tmp_path / "gate"
    configure(repo, {"backend": "process"}, agent,
              hooks={"on_success": hook, "on_error": hook})
    agent.default = [["note", "start"], ["wait", str(gate)],
                     ["print", "###TASK_COMPLETE_{n}###"], ["forever"]]
    agent.save()
    for n in range(1, 11):
        repo.add_issue(n, f"Issue {n}")
    status_dir = repo.path / ".worktrees" / ".status"

    batch = procs.start("batch", *map(str, range(1, 11)), "--interval", "1", "--json")
    wait_for(lambda: len(agent.events("start")) == 10, timeout=60, what="ten agents")
    assert {r["status"] for r in records(repo).values()} == {"running"}

    stop = tmp_path / "stop-reading"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(status_dir), str(stop)],
                              stdout=subprocess.PIPE, text=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(status_dir / ".3.lock")],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"

    context = multiprocessing.get_context("fork")
    go = context.Event()
    writers = [context.Process(target=_writer, args=(str(repo.path), i, go))
               for i in range(50)]
    for writer in writers:
        writer.start()
    go.set()
    # Writers reaching #3 wait on the lock; its holder dies without unlocking.
    wait_for(lambda: all((records(repo).get(n) or {}).get("status") in ("complete", "error")
                         for n in range(1, 11) if n != 3), what="every issue but #3 final")
    assert records(repo)[3]["status"] == "running"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0
    gate.touch()  # the agents print their markers now: too late to change anything

    out, err = batch.communicate(timeout=120)
    stop.touch()
    reads = json.loads(reader.communicate(timeout=60)[0])

    final = records(repo)
    assert {r["status"] for r in final.values()} <= {"complete", "error"}
    items = results(out)
    assert batch.returncode == (0 if all(r["status"] == "complete" for r in final.values())
                                else 1), (out, err)
    for n, record in final.items():
        assert items[n]["state"] == record["status"]
        if record["status"] == "error":
            writer = int(record["error_message"].removeprefix("writer "))
            assert (writer + n) % 2 == 0
    # Exactly one transition per issue: one lifecycle hook run each, matching the record.
    hook_lines = sorted(hooks_log.read_text().splitlines(), key=lambda s: int(s.split()[0]))
    assert hook_lines == [f"{n} {final[n]['status']}" for n in range(1, 11)]
    assert reads["bad"] == 0 and reads["reads"] > 100, reads
    assert [p.name for p in status_dir.iterdir() if p.name.endswith(".tmp")] == []
    figure("status writers: records parsed by the reader during the race", reads["reads"])
