"""Starting files: a pirun between reserving a slot and starting the session.

A starting file left by a pirun killed with -9 must not keep its run "starting"
forever (the run would never be reconciled, and a batch would wait on it), also
when the kernel has since given the dead pirun's pid to another process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from pirun import procfs
from pirun.runtime import Runtime
from pirun.sessions import is_starting, starting_path, this_process


@pytest.fixture
def rt(repo: Any) -> Runtime:
    runtime = Runtime.load(repo.path)
    runtime.config.run_dir.mkdir(parents=True)
    return runtime


def start_time(pid: int) -> int:
    stat = procfs.read_stat(pid)
    assert stat is not None
    return stat.start_time


def test_starting_file_of_a_living_pirun_means_starting(rt: Runtime) -> None:
    starting_path(rt, "1").write_text(this_process())

    assert is_starting(rt, "1")
    assert this_process() == f"{os.getpid()} {start_time(os.getpid())}"


def test_no_or_unreadable_starting_file_means_not_starting(rt: Runtime) -> None:
    assert not is_starting(rt, "1")
    for junk in ("", "not a pid", "12 x"):
        starting_path(rt, "1").write_text(junk)
        assert not is_starting(rt, "1"), junk


def test_starting_file_of_a_pirun_killed_with_9_means_not_starting(rt: Runtime) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    starting_path(rt, "1").write_text(f"{child.pid} {start_time(child.pid)}")
    assert is_starting(rt, "1")

    child.send_signal(signal.SIGKILL)
    # Dead but not reaped yet: a zombie still holds its pid (os.kill(pid, 0) succeeds).
    while not procfs.read_stat(child.pid).dead:  # type: ignore[union-attr]
        time.sleep(0.01)
    assert not is_starting(rt, "1")
    child.wait()
    assert not is_starting(rt, "1")


def test_starting_file_whose_pid_now_belongs_to_another_process_means_not_starting(
    rt: Runtime,
) -> None:
    # Our own pid stands in for the dead pirun's pid, handed by the kernel to a
    # process that started later.
    starting_path(rt, "1").write_text(f"{os.getpid()} {start_time(os.getpid()) - 1}")

    assert not is_starting(rt, "1")


def test_starting_file_with_only_a_pid_is_judged_by_the_pid(rt: Runtime) -> None:
    # As written where /proc cannot be read.
    starting_path(rt, "1").write_text(str(os.getpid()))
    assert is_starting(rt, "1")

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    starting_path(rt, "1").write_text(str(child.pid))
    assert not is_starting(rt, "1")


def test_starting_file_of_a_name_key(rt: Runtime) -> None:
    assert starting_path(rt, "PROJ-1").name == "issue-PROJ-1.starting"
    assert starting_path(rt, "o/r#1").name == "issue-o_2fr_231.starting"
    starting_path(rt, "PROJ-1").write_text(this_process())

    assert is_starting(rt, "PROJ-1")
    assert not is_starting(rt, "1")
    assert not is_starting(rt, "PROJ-10")


def test_active_records_of_starting_runs_come_in_natural_key_order(repo: Any) -> None:
    from pirun.model import Status, StatusRecord
    from pirun.sessions import active_records

    repo.write_config(backend="process")  # no tmux server of anyone else's is asked
    rt = Runtime.load(repo.path)
    rt.config.run_dir.mkdir(parents=True)
    for key in ("PROJ-1", "10", "2", "PROJ-10", "PROJ-2"):
        rt.store.put(StatusRecord(issue=key, status=Status.RUNNING,
                                  session=rt.config.session_name(key)))
        starting_path(rt, key).write_text(this_process())
    rt.store.put(StatusRecord(issue="3", status=Status.COMPLETE, session="pi-issue-3"))
    starting_path(rt, "3").write_text(this_process())

    assert [r.issue for r in active_records(rt)] == ["2", "10", "PROJ-1", "PROJ-2", "PROJ-10"]
