"""Reading Linux's /proc: telling our processes from strangers and stopping whole trees
(for session backends, and for whatever else must know whether a process it
recorded still runs).

A pid alone names a process only until it exits: the kernel hands the number out
again. A pid together with the process's start time (field 22 of /proc/PID/stat,
in clock ticks since boot) names one process for good, so every check and every
signal here goes through `ProcId`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")

#: How often `terminate` looks whether the processes are gone.
POLL_INTERVAL = 0.05

#: Most seconds `terminate` waits for SIGKILLed processes to be gone (a process in
#: uninterruptible sleep dies only when the kernel call returns).
KILL_WAIT = 1.0


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/PID/stat that pirun needs."""

    pid: int
    state: str
    ppid: int
    pgid: int
    start_time: int

    @property
    def dead(self) -> bool:
        # A zombie has exited and only waits for its parent to collect the status.
        return self.state in ("Z", "X", "x")

    @property
    def id(self) -> ProcId:
        return ProcId(self.pid, self.start_time)


@dataclass(frozen=True)
class ProcId:
    """One process for good: a pid is reused, a pid with its start time is not."""

    pid: int
    start_time: int


def available() -> bool:
    return (PROC / "self" / "stat").is_file()


def read_stat(pid: int) -> ProcStat | None:
    """The process's stat line, or None if there is no process with that pid."""
    try:
        data = (PROC / str(pid) / "stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError, PermissionError):
        return None
    # Field 2 is the command name in parentheses and may itself hold spaces and
    # parentheses; everything after the last ')' is plain space-separated numbers.
    _, _, rest = data.rpartition(b")")
    fields = rest.split()
    try:
        return ProcStat(
            pid=pid,
            state=fields[0].decode("ascii", "replace"),
            ppid=int(fields[1]),
            pgid=int(fields[2]),
            start_time=int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


def is_alive(proc: ProcId) -> bool:
    """True while that very process runs (not a zombie, not a newer process on its pid)."""
    stat = read_stat(proc.pid)
    return stat is not None and stat.start_time == proc.start_time and not stat.dead


def process_tree(roots: Iterable[int], groups: Iterable[int] = ()) -> list[ProcId]:
    """`roots`, their descendants, and the members of process groups `groups`.

    Descendants matter because a program may start children in sessions of their
    own (the exec wrapper's agent runs on its own pty), out of reach of a signal
    sent to the process group. Group members matter because a child whose parent
    has exited is no longer anybody's descendant. Empty without /proc.
    """
    wanted_groups = set(groups)
    children: dict[int, list[ProcStat]] = {}
    found: dict[int, ProcStat] = {}
    try:
        entries = list(os.scandir(PROC))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        stat = read_stat(int(entry.name))
        if stat is None or stat.dead:
            continue
        children.setdefault(stat.ppid, []).append(stat)
        if stat.pgid in wanted_groups:
            found[stat.pid] = stat
    queue = [stat for stat in (read_stat(pid) for pid in roots) if stat is not None]
    visited: set[int] = set()
    while queue:
        stat = queue.pop()
        if stat.pid in visited:
            continue
        visited.add(stat.pid)
        found[stat.pid] = stat
        queue.extend(children.get(stat.pid, []))
    return [stat.id for stat in found.values() if not stat.dead]


def send(proc: ProcId, signum: int) -> None:
    """Signal the process if it is still the one we mean."""
    # Between the check and the kill the process could exit and its pid be handed
    # out again; pids are allocated cyclically, so that takes a full wrap of the
    # pid space within microseconds, which does not happen in practice.
    if is_alive(proc):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, signum)


def terminate(procs: list[ProcId], grace: float) -> None:
    """Wait up to `grace` seconds for `procs` to exit, then SIGKILL the survivors.

    The caller has already asked them to stop (SIGTERM to the group, a tmux
    session's hangup); this is for programs that ignore or outlive that request.
    """
    deadline = time.monotonic() + grace
    while True:
        alive = [proc for proc in procs if is_alive(proc)]
        if not alive:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL)
    for proc in alive:
        send(proc, signal.SIGKILL)
    # SIGKILL is delivered asynchronously; a caller that goes on to reap the
    # processes, or to report them stopped, needs them actually dead.
    deadline = time.monotonic() + KILL_WAIT
    while any(is_alive(proc) for proc in alive) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL / 5)
