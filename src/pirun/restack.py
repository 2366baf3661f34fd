"""`pirun restack`: bring stacked branches up to date with their blockers.

After a blocker's branch got new commits (a review fix) or landed on the base, its
dependents' branches still hold the old work. Restacking merges the new commits (or
the base) into them: merge rather than rebase, because a dependent's branch may be
pushed with a pull request open on it, and a merge rewrites nothing, needs no
force-push and never drops a commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pirun.errors import PirunError, WorkspaceError
from pirun.keys import display_key, json_key, sort_key
from pirun.model import StackedWork, Workspace
from pirun.protocols import StackingWorkspaceManager
from pirun.runtime import Runtime


@dataclass
class Restacked:
    """What restacking did (or would do) to one issue's branch."""

    workspace: Workspace
    changes: list[str] = field(default_factory=list)
    #: Why it was left alone: its agent runs, its worktree is dirty, a conflict.
    refused: str | None = None

    def line(self) -> str:
        head = f"{display_key(self.workspace.issue)} {self.workspace.branch}"
        if self.refused:
            return f"{head}: refused: {self.refused}"
        return f"{head}: " + ("; ".join(self.changes) or "up to date")

    def to_dict(self) -> dict[str, Any]:
        return {
            "issue": json_key(self.workspace.issue),
            "branch": self.workspace.branch,
            "changes": self.changes,
            "refused": self.refused,
        }


def stacked_order(
    stacks: dict[str, tuple[Workspace, list[StackedWork]]],
) -> list[tuple[Workspace, list[StackedWork]]]:
    """Blockers before their dependents, so that a chain moves in one run: when #1
    got a fix, #2 takes it first, then #3 takes #2's new head."""
    by_branch = {ws.branch: issue for issue, (ws, _) in stacks.items()}
    done: list[str] = []
    placed: set[str] = set()
    for start in sorted(stacks, key=sort_key):
        # Depth-first over recorded blockers, iteratively: stacks can be long.
        path = [start]
        while path:
            issue = path[-1]
            if issue in placed:
                path.pop()
                continue
            waiting = [
                by_branch[w.branch] for w in stacks[issue][1]
                if w.branch in by_branch and by_branch[w.branch] not in placed
                and by_branch[w.branch] not in path
            ]
            if waiting:
                path.append(waiting[0])
                continue
            placed.add(issue)
            done.append(issue)
            path.pop()
    return [stacks[issue] for issue in done]


def restack(rt: Runtime, keys: list[str], dry_run: bool) -> list[Restacked]:
    """Restack the branches of `keys` (none: every stacked branch of the repository)."""
    manager = rt.workspaces
    if not isinstance(manager, StackingWorkspaceManager):
        raise PirunError("the workspace manager in use cannot stack branches")
    workspaces = {ws.issue: ws for ws in manager.list()}
    for key in keys:
        if key not in workspaces:
            raise PirunError(f"issue {display_key(key)} has no worktree to restack")
    stacks = {}
    for key in keys or list(workspaces):
        recorded = manager.builds_on(workspaces[key])
        if recorded or key in keys:
            stacks[key] = (workspaces[key], recorded)
    results = []
    for workspace, before in stacked_order(stacks):
        result = Restacked(workspace)
        results.append(result)
        if not before:
            result.refused = "not stacked on other issues' work"
            continue
        record = rt.store.get(workspace.issue)
        if record is not None and not record.status.is_final and rt.backend.exists(
            record.session
        ):
            result.refused = "its agent is running (stop it, or wait until it finishes)"
            continue
        try:
            result.changes = manager.restack(workspace, dry_run)
        except WorkspaceError as exc:
            result.refused = str(exc).removeprefix(f"issue {display_key(workspace.issue)}: ")
            continue
        if result.changes and not dry_run:
            rt.pm.hook.pirun_workspace_restacked(
                config=rt.config, workspace=workspace, before=before,
                after=manager.builds_on(workspace),
            )
    return results
