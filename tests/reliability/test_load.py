"""Load: 100 idle sessions under each backend held by one `pirun batch` (plus a
`pirun wait` watching the same issues), and a 500-issue batch in 20 layers.

Figures (CPU of the watching processes, wall times) are recorded with `figure()`
for docs/reliability.md and never asserted on: the machine running the suite may
be busy with anything else.

Plugins not involved here (GitHub tracker, dashboard, notifications, text
dependencies) are disabled in `.pirun.yaml`; every session still runs the real exec
wrapper, and that Python start-up is most of the cost per issue.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from reliabilityutil import (
    CpuSampler,
    Procs,
    figure,
    list_sessions,
    records,
    results,
    tmux_sessions,
    wait_for,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

UNUSED_PLUGINS = ["github", "dashboard", "notify", "textdeps"]

#: An idle agent: notes its start, blocks until the test releases it, prints its
#: marker, then blocks again until the test lets it exit. With flock it waits on a
#: lock the test holds (no CPU at all); without, it polls a file once a second.
IDLE_AGENT = r'''
n=$1; events=$2; release=$3; leave=$4
printf 'start %s %s\n' "$n" "$(date +%s.%N)" >> "$events"
hold() {
    if command -v flock >/dev/null 2>&1; then flock -s "$1" true
    else while [ -e "$1.held" ]; do sleep 1; done; fi
}
hold "$release"
echo "###TASK_COMPLETE_$n###"
hold "$leave"
'''


@contextmanager
def held(path: Path) -> Iterator[Any]:
    """An exclusive flock on `path` (and a `.held` file for agents without flock);
    `release()` on the yielded object lets the agents go."""
    handle = open(path, "w")  # noqa: SIM115 - released explicitly or at exit
    fcntl.flock(handle, fcntl.LOCK_EX)
    marker = Path(f"{path}.held")
    marker.touch()

    class Release:
        def release(self) -> None:
            marker.unlink(missing_ok=True)
            if not handle.closed:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()

    gate = Release()
    try:
        yield gate
    finally:
        gate.release()


class Sampler(threading.Thread):
    """Samples a process's CPU time every 0.1 s until it exits."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.cpu = CpuSampler(pid)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.cpu.sample()
            time.sleep(0.1)

    def now(self) -> float:
        return self.cpu.sample()


def settled(sampler: Sampler, timeout: float = 60) -> None:
    """Wait until the process has used under 20 ms of CPU over a whole second."""
    deadline = time.monotonic() + timeout
    before = sampler.now()
    while time.monotonic() < deadline:
        time.sleep(1)
        now = sampler.now()
        if now - before < 0.02:
            return
        before = now


def started(events: Path) -> dict[int, float]:
    if not events.exists():
        return {}
    return {int(line.split()[1]): float(line.split()[2])
            for line in events.read_text().splitlines()}


@pytest.mark.timeout(600)
def test_hundred_idle_sessions_all_detected(
    repo: Any, pirun: Any, procs: Procs, backend_config: dict[str, Any], tmp_path: Path
) -> None:
    count = 100
    backend = backend_config["backend"]
    events, release, leave = tmp_path / "events", tmp_path / "release", tmp_path / "leave"
    repo.write_config(
        **backend_config, disable=UNUSED_PLUGINS,
        agent={"command": ["sh", "-c", IDLE_AGENT, "agent", "{issue}", str(events),
                           str(release), str(leave)]},
    )
    for n in range(1, count + 1):
        repo.add_issue(n, f"Idle {n}")
    numbers = [str(n) for n in range(1, count + 1)]

    with held(release) as release_gate, held(leave) as leave_gate:
        begin = time.monotonic()
        batch = procs.start("batch", *numbers, "--json")
        batch_cpu = Sampler(batch.pid)
        batch_cpu.start()
        wait_for(lambda: len(started(events)) == count, timeout=400, interval=0.2,
                 what=f"{count} agents to start")
        all_started = time.monotonic()
        launch_cpu = batch_cpu.now()

        # Every session is live and known; a second watcher joins.
        assert len(list_sessions(pirun)) == count
        if backend == "tmux":
            assert len(tmux_sessions(backend_config["tmux"]["socket_name"])) == count
        assert {r["status"] for r in records(repo).values()} == {"running"}
        waiter = procs.start("wait", *numbers, "--json")
        wait_cpu = Sampler(waiter.pid)
        wait_cpu.start()
        settled(wait_cpu)  # its start-up (imports, first look) is over

        idle_from = (time.monotonic(), batch_cpu.now(), wait_cpu.now())
        time.sleep(5)
        idle_to = (time.monotonic(), batch_cpu.now(), wait_cpu.now())

        released = time.monotonic()
        release_gate.release()
        out, err = batch.communicate(timeout=300)
        detected = time.monotonic()
        wait_out, wait_err = waiter.communicate(timeout=120)
        batch_cpu.done.set()
        wait_cpu.done.set()

        assert batch.returncode == 0, (out[-2000:], err[-2000:])
        items = results(out)
        assert len(items) == count
        assert {i["state"] for i in items.values()} == {"complete"}
        assert waiter.returncode == 0, (wait_out, wait_err)
        waited = json.loads(wait_out)
        assert sorted(waited["completed"]) == list(range(1, count + 1))
        assert waited["failed"] == {} and waited["pending"] == []
        assert {r["status"] for r in records(repo).values()} == {"complete"}
        assert len(records(repo)) == count
        # Found by their markers: every agent is still running, none ran twice.
        assert len(list_sessions(pirun)) == count
        assert len(events.read_text().splitlines()) == count
        leave_gate.release()
        wait_for(lambda: list_sessions(pirun) == [], timeout=120, what="every session to end")

    idle_seconds = idle_to[0] - idle_from[0]
    figure(f"load[{backend}]: sessions held", count)
    figure(f"load[{backend}]: wall s to start all (not asserted)", round(all_started - begin, 1))
    figure(f"load[{backend}]: batch CPU s while starting them", round(launch_cpu, 2))
    figure(f"load[{backend}]: batch CPU ms per idle second",
           round(1000 * (idle_to[1] - idle_from[1]) / idle_seconds, 1))
    figure(f"load[{backend}]: wait CPU ms per idle second",
           round(1000 * (idle_to[2] - idle_from[2]) / idle_seconds, 1))
    figure(f"load[{backend}]: batch CPU s to detect all {count} completions",
           round(batch_cpu.cpu.last - idle_to[1], 2))
    figure(f"load[{backend}]: wait CPU s to detect all {count} completions",
           round(wait_cpu.cpu.last - idle_to[2], 2))
    figure(f"load[{backend}]: wall s from release to batch exit (not asserted)",
           round(detected - released, 2))
    figure(f"load[{backend}]: flock available", shutil.which("flock") is not None)


def layered_graph(count: int, layers: int) -> dict[int, list[int]]:
    """Issue i (1-based) sits in layer (i-1) // width, blocked by two issues of the
    layer before it, so it can be in no earlier layer."""
    width = count // layers
    graph: dict[int, list[int]] = {}
    for i in range(1, count + 1):
        layer, slot = divmod(i - 1, width)
        if layer == 0:
            graph[i] = []
        else:
            base = (layer - 1) * width
            graph[i] = sorted({base + slot + 1, base + (slot + 1) % width + 1})
    return graph


@pytest.mark.timeout(900)
def test_five_hundred_issues_in_twenty_layers(
    repo: Any, pirun: Any, procs: Procs, tmp_path: Path
) -> None:
    count, layers = 500, 20
    events = tmp_path / "events"
    graph = layered_graph(count, layers)
    # An instant agent: one line with its issue and the time, then exit 0.
    repo.write_config(
        backend="process", disable=UNUSED_PLUGINS,
        agent={"command": ["sh", "-c", 'printf "%s %s\\n" "$0" "$(date +%s.%N)" >> "$1"',
                           "{issue}", str(events)]},
    )
    for n, blockers in graph.items():
        repo.add_issue(n, f"Issue {n}", blocked_by=blockers)

    begin = time.monotonic()
    batch = procs.start("batch", *map(str, graph), "--json")
    cpu = Sampler(batch.pid)
    cpu.start()
    out, err = batch.communicate(timeout=900)
    wall = time.monotonic() - begin
    cpu.done.set()

    assert batch.returncode == 0, (out[-3000:], err[-3000:])
    data = json.loads(out)
    assert len(data["layers"]) == layers
    assert [len(layer) for layer in data["layers"]] == [count // layers] * layers
    items = results(out)
    assert {i["state"] for i in items.values()} == {"complete"}
    runs: dict[int, list[float]] = {}
    for line in events.read_text().splitlines():
        issue, stamp = line.split()
        runs.setdefault(int(issue), []).append(float(stamp))
    assert sorted(runs) == list(range(1, count + 1))
    assert all(len(stamps) == 1 for stamps in runs.values())
    for n, blockers in graph.items():
        for blocker in blockers:
            # The agent ran after its blocker's agent, and after the batch saw the
            # blocker complete; the batch started it after that too.
            assert runs[n][0] > runs[blocker][0], (n, blocker)
            assert runs[n][0] > items[blocker]["finished"], (n, blocker)
            assert items[n]["started"] >= items[blocker]["finished"], (n, blocker)
    assert len(records(repo)) == count
    assert {r["status"] for r in records(repo).values()} == {"complete"}
    figure("500 issues / 20 layers: wall s (not asserted)", round(wall, 1))
    figure("500 issues / 20 layers: batch CPU s", round(cpu.cpu.last, 1))
