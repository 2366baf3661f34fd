"""Which runs are alive: slots being started, live sessions, vanished ones."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from pirun import procfs
from pirun.keys import json_key, key_from_name, key_name, sort_key
from pirun.model import Outcome, Status, StatusRecord
from pirun.outcomes import record_outcome
from pirun.runtime import Runtime

SESSION_VANISHED = "session vanished"


def starting_path(rt: Runtime, issue: str) -> Path:
    return rt.config.run_dir / f"issue-{key_name(issue)}.starting"


def this_process() -> str:
    """What a starting file holds: this process's pid and, where /proc tells it, its
    start time, so a pid the kernel has since handed to another process is not
    taken for a pirun still starting the issue."""
    me = procfs.read_stat(os.getpid())
    return f"{me.pid} {me.start_time}" if me is not None else str(os.getpid())


def is_starting(rt: Runtime, issue: str) -> bool:
    """True while some pirun process is between reserving a slot and starting the
    session (the workspace may take a while: fetch, copy, setup commands).

    A starting file left by a pirun killed with -9 names a dead process: false, so
    the run is reconciled (and a batch starts the issue again)."""
    try:
        fields = starting_path(rt, issue).read_text().split()
        pid = int(fields[0])
        start = int(fields[1]) if len(fields) > 1 else None
    except (OSError, ValueError, IndexError):
        return False
    if start is not None:
        # Dead, a zombie, or its pid reused by a newer process: not starting.
        return procfs.is_alive(procfs.ProcId(pid, start))
    # Written where /proc was not readable: the pid alone is all there is, which
    # procfs.is_alive cannot judge (it needs the start time), and a reused pid
    # reads as still starting.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running(rt: Runtime) -> tuple[list[StatusRecord], set[str]]:
    """Non-final records, and the sessions of those that are starting or live.

    A run's session exists before its starting file is removed, and the run does not
    take the sessions lock for that step. So the starting files are read first and
    the live sessions listed after: a run moving from one to the other in between is
    seen by the second look. (The other order misses it: not yet live, no longer
    starting.)
    """
    starting_issues = _starting_issues(rt)
    records = [record for record in rt.store.list() if not record.status.is_final]
    if not records:
        return [], set()
    starting = {record.session for record in records if record.issue in starting_issues}
    return records, starting | set(rt.backend.list(rt.config.prefix))


def active_records(rt: Runtime) -> list[StatusRecord]:
    """Records of runs holding a concurrency slot: not final, session alive or starting.

    Called for every start, so it reads only the records of issues that are starting
    or have a live session, not every record (a 500-issue batch would read them all
    500 times). Starting files before live sessions, for the reason `_running` gives.
    """
    starting = _starting_issues(rt)
    live = set(rt.backend.list(rt.config.prefix))
    live_issues = {
        issue for name in live if (issue := rt.issue_of_session(name)) is not None
    }
    active = []
    for issue in sorted(starting | live_issues, key=sort_key):
        record = rt.store.get(issue)
        if record is None or record.status.is_final:
            continue
        if issue in starting or record.session in live:
            active.append(record)
    return active


def _starting_issues(rt: Runtime) -> set[str]:
    """Issues some pirun process is still starting. The starting file of a process
    that died (a pirun killed with -9 between starting a session and removing the
    file) is removed on the way: nobody else would. Callers hold the sessions lock."""
    issues = set()
    for path in rt.config.run_dir.glob("issue-*.starting"):
        key = key_from_name(path.name.removeprefix("issue-").removesuffix(".starting"))
        if key is None:
            continue
        if is_starting(rt, key):
            issues.add(key)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return issues


def reconcile(rt: Runtime) -> list[StatusRecord]:
    """Mark running records whose session is gone as `session vanished`.

    Runs under the sessions lock, and skips runs still starting, so a session
    being started right now is never mistaken for a vanished one.
    """
    changed = []
    with rt.lock("sessions"):
        records, running = _running(rt)
        for record in records:
            if record.session in running:
                continue
            new = record_outcome(
                rt, record.issue, Outcome.error(SESSION_VANISHED, "reconcile"), record.run_id
            )
            if new is not None:
                changed.append(new)
    return changed


def session_rows(rt: Runtime) -> list[dict[str, Any]]:
    """One row per live session of this repository, by issue: what `pirun list` and
    the dashboard show."""
    config = rt.config
    records = {record.session: record for record in rt.store.list()}
    workspaces = {ws.issue: ws for ws in rt.workspaces.list()}
    sessions = {
        issue: name for name in rt.backend.list(config.prefix)
        # None: someone else's session that merely starts with the prefix
        if (issue := rt.issue_of_session(name)) is not None
    }
    rows = []
    for issue, name in sorted(sessions.items(), key=lambda item: sort_key(item[0])):
        record = records.get(name)
        workspace = workspaces.get(issue)
        rows.append(
            {
                "session": name,
                "issue": json_key(issue),
                "worktree": config.relative(workspace.path) if workspace else None,
                "branch": workspace.branch if workspace else None,
                "status": record.status.value if record else "unknown",
                "reason": record.reason if record and record.status is Status.WAITING else None,
                "age_seconds": int(record.age_seconds()) if record else None,
            }
        )
    return rows


def stop_issue(rt: Runtime, key: str, reason: str = "stopped by user") -> bool:
    """Record the stop, then end the session; True if a session was running."""
    record = rt.store.get(key)
    record_outcome(rt, key, Outcome.error(reason, "stop"), record.run_id if record else None)
    name = rt.config.session_name(key)
    alive = rt.backend.exists(name)
    if alive:
        rt.backend.kill(name)
    return alive
