"""An unusable state directory (`worktree.dir`, its `.status` and `.run`) gives a
clear one-line error, never a traceback, and costs no recorded work.

Tests run as root here, and root ignores permission bits, so `chmod 555` proves
nothing. The realistic stand-ins used instead:

* the path is a regular file (a stray file, a bad `worktree.dir`): always available;
* the directory is immutable (`chattr +i`, which stops root too; what a read-only
  mount does to writes): needs chattr and a file system with the flag (ext4, xfs);
* the disk is full: a small tmpfs mounted over `worktree.dir` and filled up, when
  this process may mount (root with CAP_SYS_ADMIN); skipped elsewhere.

tests/plugins/jsonstatus/test_jsonstatus.py covers the store's own errors in-process.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliabilityutil import (
    Agent,
    alive,
    assert_one_line_error,
    configure,
    list_sessions,
    results,
    wait_for,
)

pytestmark = pytest.mark.reliability


@pytest.mark.parametrize("path", [".worktrees", ".worktrees/.status", ".worktrees/.run"])
def test_state_path_that_is_a_file(repo: Any, pirun: Any, agent: Agent, path: str) -> None:
    configure(repo, {"backend": "process"}, agent)
    repo.add_issue(1, "One")
    target = repo.path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("not a directory\n")

    for command in (["run", "1", "--no-attach"], ["batch", "1"], ["wait", "1"]):
        result = pirun(*command)
        assert_one_line_error(result, 1, "Error: ", str(target))
    for command in (["status"], ["list"], ["cleanup", "--all"], ["stop", "--all"]):
        result = pirun(*command)
        assert "Traceback" not in result.stderr + result.stdout, (command, result.stderr)
        assert len(result.stderr.strip().splitlines()) <= 1, (command, result.stderr)
    assert not agent.events("start")
    assert target.read_text() == "not a directory\n"


def chattr(flag: str, path: Path) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    if not chattr("+i", path):
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        chattr("-i", path)


@pytest.mark.slow
def test_read_only_status_directory(
    repo: Any, pirun: Any, agent: Agent, tmp_path: Path
) -> None:
    configure(repo, {"backend": "process"}, agent)
    gate = tmp_path / "gate"
    repo.add_issue(1, "Before")
    repo.add_issue(2, "During")
    agent.set(2, ["note", "start"], ["wait", str(gate)], ["print", "finished, no marker"])
    status_dir = repo.path / ".worktrees" / ".status"
    status_dir.mkdir(parents=True)

    # Read-only before the start: refused at once, nothing started.
    with immutable(status_dir):
        refused = pirun("run", "1", "--no-attach")
    assert_one_line_error(refused, 1, f"cannot write status records in {status_dir}",
                          "Operation not permitted")
    assert not agent.events("start", 1)
    assert list_sessions(pirun) == []

    # Read-only while an agent runs: the wrapper cannot record the result and says so
    # in the log; commands that must write say why in one line.
    assert pirun("run", "2", "--no-attach").exit_code == 0
    wait_for(lambda: agent.events("start", 2), what="#2 to start")
    log = repo.path / ".worktrees" / ".logs" / "issue-2.log"
    with immutable(status_dir):
        gate.touch()
        wait_for(lambda: b"pirun: cannot record the result" in log.read_bytes(),
                 what="the wrapper to report it in the log")
        (start,) = agent.events("start", 2)
        wait_for(lambda: not alive(start.ppid), what="#2's wrapper to end")
        status = pirun("status", "2")
        assert_one_line_error(status, 1, "cannot write status records")
    text = log.read_bytes().decode()
    assert (f"pirun: cannot record the result (complete): cannot write status records in "
            f"{status_dir}: Operation not permitted") in text
    # Writable again: the run whose result could not be kept is reported, not lost silently.
    assert pirun("status", "2").stdout.splitlines() == ["Issue #2: error",
                                                        "Error: session vanished"]
    rerun = pirun("batch", "1", "2")
    assert rerun.exit_code == 0, (rerun.stdout, rerun.stderr)


@contextlib.contextmanager
def full_disk(path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs over `path`, filled up; yields the filler file."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "pirun-full", str(path)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)")
    filler = path / "filler"
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"], capture_output=True)
        yield filler
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.slow
def test_full_disk_under_the_state_directory(repo: Any, pirun: Any, agent: Agent) -> None:
    configure(repo, {"backend": "process"}, agent)
    repo.add_issue(1, "One")
    repo.add_issue(2, "Two", blocked_by=[1])
    with full_disk(repo.path / ".worktrees") as filler:
        assert_one_line_error(pirun("run", "1", "--no-attach"), 1, "disk full")
        batch = pirun("batch", "1", "2", "--json")
        assert batch.exit_code == 1 and "Traceback" not in batch.stderr, batch.stderr
        assert {n: (i["state"], i["message"]) for n, i in results(batch.stdout).items()} == {
            1: ("error", "cannot start issue #1: disk full"),
            2: ("skipped", "blocked by #1 (error)"),
        }
        assert not agent.events("start")

        filler.unlink()
        result = pirun("batch", "1", "2", "--json")

        assert result.exit_code == 0, (result.stdout, result.stderr)
        assert [e.issue for e in agent.events("start")] == [1, 2]
        pirun("stop", "--all")
