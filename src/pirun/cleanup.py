"""`pirun cleanup`: choosing what to remove, and removing it without losing work."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from pirun.errors import PirunError, os_error_reason
from pirun.keys import display_key, sort_key
from pirun.model import Outcome, Status, StatusRecord
from pirun.outcomes import cleaned_path, keep_cleaned, record_outcome
from pirun.runtime import Runtime
from pirun.screen import screen_path, size_path
from pirun.wrapper import events_path


@dataclass(frozen=True)
class CleanupOptions:
    dry_run: bool = False
    force: bool = False
    delete_branch: bool = True


@dataclass(frozen=True)
class Target:
    issue: str
    #: Orphans keep their branch unless --force: a worktree left without a session
    #: may hold the only reference to finished work.
    keep_branch: bool = False


@dataclass
class CleanupReport:
    removed: dict[str, list[str]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "removed": dict(self.removed),
            "refused": dict(self.refused),
        }


def cleanup_targets(
    rt: Runtime, issues: list[str], *, all_issues: bool, completed: bool, orphaned: bool
) -> list[Target]:
    config = rt.config
    records = {record.issue: record for record in rt.store.list()}
    workspaces = {ws.issue for ws in rt.workspaces.list()}
    sessions = {
        n for n in (rt.issue_of_session(s) for s in rt.backend.list(config.prefix))
        if n is not None
    }
    targets = {n: Target(n) for n in issues}
    if all_issues:
        for n in sorted(set(records) | workspaces | sessions, key=sort_key):
            record = records.get(n)
            if completed and (record is None or record.status is not Status.COMPLETE):
                continue
            targets.setdefault(n, Target(n))
    if orphaned:
        for n in sorted(set(records) | workspaces | sessions, key=sort_key):
            has_session, has_workspace = n in sessions, n in workspaces
            if (
                (has_session and not has_workspace)
                or (has_workspace and not has_session)
                or (n in records and not has_session and not has_workspace)
            ):
                targets.setdefault(n, Target(n, keep_branch=True))
    return [targets[n] for n in sorted(targets, key=sort_key)]


def run_cleanup(rt: Runtime, targets: list[Target], options: CleanupOptions) -> CleanupReport:
    report = CleanupReport()
    config = rt.config
    for target in targets:
        n = target.issue
        session = config.session_name(n)
        record = rt.store.get(n)
        alive = rt.backend.exists(session)
        # A record not final has a live session or is still starting (the caller
        # reconciled vanished ones): its worktree and record are in use either way.
        if record is not None and not record.status.is_final and not options.force:
            report.refused[n] = (
                f"issue {display_key(n)} is still running; stop it first or use --force"
            )
            continue
        workspace = rt.workspaces.find(n)
        planned = [f"session {session}"] if alive else []
        if workspace is not None:
            planned.append(f"worktree {workspace.path}")
        if record is not None:
            planned.append("status record")
        if options.dry_run:
            if planned:
                report.removed[n] = planned
            continue
        removed: list[str] = []
        if alive or (record is not None and not record.status.is_final):
            # Only with --force for a run not finished. Final first: the outcome is
            # then fixed, and whoever watches the run reads it (see below).
            record_outcome(rt, n, Outcome.error("stopped by cleanup", "cleanup"))
        if alive:
            rt.backend.kill(session)
            removed.append(f"session {session}")
        if workspace is not None:
            delete_branch = options.delete_branch and (options.force or not target.keep_branch)
            try:
                removed += rt.workspaces.remove(workspace, options.force, delete_branch)
            except PirunError as exc:
                report.refused[n] = str(exc)
                if removed:
                    report.removed[n] = removed
                continue
        if record is not None:
            try:
                if _delete_record(rt, n, record):
                    removed.append("status record")
            except OSError as exc:
                # Deleting it unsaved could lose a result a batch has not read yet.
                reason = os_error_reason(exc)
                report.refused[n] = (
                    f"issue {display_key(n)}: status record kept: cannot save its outcome in "
                    f"{cleaned_path(rt, n).parent}: {reason}"
                )
                if removed:
                    report.removed[n] = removed
                continue
        log = config.log_path(n)
        for path in (config.exit_path(n), config.run_spec_path(n), screen_path(log),
                     size_path(log), events_path(log)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if removed:
            report.removed[n] = removed
            rt.pm.hook.pirun_session_cleaned(config=config, issue=n, removed=removed)
    return report


def _delete_record(rt: Runtime, issue: str, seen: StatusRecord) -> bool:
    """Delete the record of the run cleanup looked at, keeping its outcome first.

    A batch or `pirun wait` may be watching that run and not have read its result
    yet: it finds it in the kept copy (`outcomes.keep_cleaned`) instead of a record
    that disappeared. Under the sessions lock, so that no new run of the issue can
    be started between the look and the delete (its record would be deleted).
    False when there was nothing of that run left to delete.
    """
    with rt.lock("sessions"):
        current = rt.store.get(issue)
        if current is None or current.run_id != seen.run_id:
            return False
        keep_cleaned(rt, current)
        rt.store.delete(issue)
    return True
