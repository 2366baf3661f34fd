"""`pirun.procfs`: processes named for good by pid and start time, whole trees found
and stopped. (The session backends' tests exercise it through `kill`.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import wait_until

from pirun import procfs

pytestmark = pytest.mark.skipif(not procfs.available(), reason="needs Linux's /proc")

#: Ignores SIGTERM, starts a child in a session of its own that ignores it too,
#: prints both pids, then sleeps.
STUBBORN_TREE = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(
    [sys.executable, "-c",
     "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"],
    start_new_session=True,
)
print(os.getpid(), child.pid, flush=True)
time.sleep(60)
"""


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts, each in a session of its own; killed after the test,
    with everything they started, and reaped."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        for left in procfs.process_tree([proc.pid], groups=[proc.pid]):
            procfs.send(left, signal.SIGKILL)
        proc.kill()
        proc.wait(timeout=10)


def start(
    procs: list[subprocess.Popen[str]], *argv: str, pipe: bool = False
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if pipe else None,
        text=True, start_new_session=True,
    )
    procs.append(proc)
    return proc


def gone(pid: int) -> bool:
    stat = procfs.read_stat(pid)
    return stat is None or stat.dead


def test_this_process() -> None:
    stat = procfs.read_stat(os.getpid())
    assert stat is not None
    assert (stat.pid, stat.ppid, stat.pgid) == (os.getpid(), os.getppid(), os.getpgid(0))
    assert stat.start_time > 0
    assert not stat.dead
    assert stat.id == procfs.ProcId(os.getpid(), stat.start_time)
    assert procfs.is_alive(stat.id)


def test_no_such_process() -> None:
    # Above the largest pid Linux hands out (2**22).
    assert procfs.read_stat(2**22 + 1) is None
    assert not procfs.is_alive(procfs.ProcId(2**22 + 1, 1))


def test_a_pid_given_to_another_process_is_not_the_one_meant() -> None:
    me = procfs.read_stat(os.getpid())
    assert me is not None
    stranger = procfs.ProcId(os.getpid(), me.start_time + 1)

    assert not procfs.is_alive(stranger)
    procfs.send(stranger, signal.SIGTERM)  # must not signal us


def test_a_command_name_with_spaces_and_parentheses(
    tmp_path: Path, spawned: list[subprocess.Popen[str]]
) -> None:
    # Field 2 of the stat line is the command name, in parentheses, taken as is.
    odd = tmp_path / "a) (b c"
    odd.symlink_to(sys.executable)
    proc = start(spawned, str(odd), "-c", "import time; time.sleep(60)")

    stat = wait_until(lambda: (s := procfs.read_stat(proc.pid)) and s.ppid == os.getpid() and s)
    assert stat.pgid == proc.pid
    assert not stat.dead


def test_an_exited_unreaped_child_is_dead(spawned: list[subprocess.Popen[str]]) -> None:
    proc = start(spawned, sys.executable, "-c", "pass")
    first = procfs.read_stat(proc.pid)
    assert first is not None

    wait_until(lambda: (s := procfs.read_stat(proc.pid)) is not None and s.dead, what="zombie")
    assert not procfs.is_alive(first.id)

    proc.wait(timeout=10)
    assert procfs.read_stat(proc.pid) is None


def test_process_tree_and_terminate(spawned: list[subprocess.Popen[str]]) -> None:
    leader = start(spawned, sys.executable, "-c", STUBBORN_TREE, pipe=True)
    assert leader.stdout is not None
    parent, child = map(int, leader.stdout.readline().split())
    assert parent == leader.pid

    # The child leads a session of its own: found as a descendant all the same.
    tree = procfs.process_tree([leader.pid])
    assert sorted(proc.pid for proc in tree) == sorted([parent, child])

    os.killpg(leader.pid, signal.SIGTERM)  # ignored, and out of the child's reach
    procfs.terminate(tree, grace=0.2)

    assert gone(parent) and gone(child)


def test_process_tree_takes_in_group_members_whose_parent_is_gone(
    spawned: list[subprocess.Popen[str]],
) -> None:
    # A child started in the background by a shell that exits at once: reparented,
    # nobody's descendant any more, but still in the shell's process group.
    shell = start(spawned, "sh", "-c", "sleep 60 & echo $!", pipe=True)
    assert shell.stdout is not None
    orphan = int(shell.stdout.readline())
    shell.wait(timeout=10)

    found = [proc.pid for proc in procfs.process_tree([shell.pid], groups=[shell.pid])]
    assert found == [orphan]
    assert procfs.process_tree([shell.pid]) == []

    procfs.terminate(procfs.process_tree([], groups=[shell.pid]), grace=0)
    assert gone(orphan)


def test_without_proc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(procfs, "PROC", tmp_path / "no-proc")
    assert not procfs.available()
    assert procfs.read_stat(os.getpid()) is None
    assert procfs.process_tree([os.getpid()]) == []
