"""The small interfaces that plugins implement and the kernel calls."""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from pirun.errors import BackendError
from pirun.model import (
    Conflict,
    Issue,
    Outcome,
    Selection,
    SessionSpec,
    StackedWork,
    StatusRecord,
    Workspace,
)

# Session names become file names (the process backend) and tmux targets: no path
# separators, no dots, nothing a shell or tmux would give a meaning to.
_SESSION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,199}")


def check_session_name(name: str) -> None:
    """Raise BackendError unless `name` is letters, digits, `-` and `_` (at most 200,
    not starting with `-`): what every bundled backend accepts as a session name."""
    if not _SESSION_NAME.fullmatch(name):
        raise BackendError(
            f"invalid session name {name!r}: use letters, digits, '-' and '_' "
            "(check session.prefix)"
        )


@runtime_checkable
class SessionBackend(Protocol):
    """Runs sessions (one per issue) and answers for them by name."""

    name: str

    def start(self, spec: SessionSpec) -> None:
        """Start `spec.argv` detached; raise BackendError when it cannot start."""

    def exists(self, name: str) -> bool:
        """True while the session is alive."""

    def list(self, prefix: str) -> list[str]:
        """Names of live sessions starting with `prefix`."""

    def kill(self, name: str) -> None:
        """Stop the session and everything in it; no error if it is already gone."""

    def attach(self, name: str) -> None:
        """Connect the current terminal to the session (may replace this process)."""

    def send_text(self, name: str, text: str) -> None:
        """Paste literal text into the session's input, then press Enter.

        Never as key names or a command line: issue text may end up here."""


@runtime_checkable
class Tracker(Protocol):
    """Answers for the issues of one project; made once per configuration."""

    name: str

    def parse_key(self, text: str) -> str | None:
        """The key `text` names, in this tracker's one spelling, or None when `text`
        is not a key of this tracker. GitHub: `42`, `#42` and `owner/name#42` of
        its own repository are all `42`; `other/repo#7` stays itself. Jira:
        `proj-123` is `PROJ-123`.

        Called for what a person types and for blocker references found in text,
        before anything is fetched: no requests. Must be idempotent
        (`parse_key(parse_key(t)) == parse_key(t)`)."""

    def fetch(self, keys: list[str]) -> list[Issue]:
        """The issues named by `keys` (already parsed), in as few requests as it
        can, each with `Issue.key` equal to the key asked for. An issue that does
        not exist is left out (or raises IssueNotFound); keys of projects this
        tracker cannot answer for are left out too."""

    def close(self) -> None:
        """Release connections; called when the runtime is done with the tracker."""


@runtime_checkable
class SelectingTracker(Tracker, Protocol):
    """A tracker that can also choose issues for a batch (`pirun batch --label ...`)."""

    def select(self, selection: Selection) -> list[str]:
        """The keys of the issues `selection` describes (open ones unless its query
        says otherwise), in the tracker's order, at most `selection.limit`; in as few
        requests as it can."""


@runtime_checkable
class StatusStore(Protocol):
    """One status record per issue of this repository."""

    def get(self, issue: str) -> StatusRecord | None: ...

    def put(self, record: StatusRecord) -> None:
        """Write atomically: readers see the old record or the new one, never half of it."""

    def update(
        self, issue: str, change: Callable[[StatusRecord | None], StatusRecord | None]
    ) -> StatusRecord | None:
        """Read, apply `change` and write its result (None: leave as is), under a lock.

        Returns what `change` returned. Two processes never interleave an update.
        """

    def list(self) -> list[StatusRecord]: ...

    def delete(self, issue: str) -> None: ...


@runtime_checkable
class WorkspaceManager(Protocol):
    """Creates and removes the per-issue working copies."""

    def create(self, issue: Issue, base: str | None, force: bool) -> Workspace:
        """Make a fresh workspace on a new branch from `base` (None: the default branch)."""

    def find(self, issue: str) -> Workspace | None: ...

    def list(self) -> list[Workspace]: ...

    def remove(
        self, workspace: Workspace, force: bool, delete_branch: bool
    ) -> builtins.list[str]:
        """Remove it; returns what was removed. Refuses (WorkspaceError) to drop
        uncommitted changes or unmerged commits unless `force`."""


@runtime_checkable
class StackingWorkspaceManager(WorkspaceManager, Protocol):
    """A workspace manager whose branches can start from other branches' work
    (`worktree.stack`), and that can tell when two branches would conflict."""

    def tip(self, issue: Issue) -> StackedWork | None:
        """The issue's branch and the commit it points at now, as a dependent would
        start from it; None when the issue has no branch."""

    def create_stacked(
        self, issue: Issue, base: str | None, force: bool, blockers: Sequence[StackedWork]
    ) -> Workspace:
        """Like `create`, but the new branch starts from the blockers' work: from the
        one blocker's commit, or from an integration of several onto `base` (merged
        in the order given). Blockers already merged into `base` add nothing. An
        existing branch is reused as it is. Raises StackConflict, naming the files
        and the blockers, when the blockers' work does not merge; then nothing is
        created."""

    def merged(self, work: StackedWork, base: str | None) -> bool:
        """Whether `work` has landed on `base` (merged, squashed or rebased into it)."""

    def conflicts(self, workspaces: Sequence[Workspace], base: str | None) -> list[Conflict]:
        """Every pair of these workspaces' branches that would not merge cleanly, as
        their commits stand now. Touches no worktree; called again and again during a
        batch, so only branches that moved since the last call should cost anything."""

    def builds_on(self, workspace: Workspace) -> list[StackedWork]:
        """The blockers' work `workspace`'s branch was last stacked on (empty: none)."""

    def restack(self, workspace: Workspace, dry_run: bool) -> list[str]:
        """Bring a stacked branch up to date with its blockers: merge their new
        commits, or the base once they have landed there. Returns one line per change
        made (or, with `dry_run`, that would be made). Never rewrites or drops a
        commit; refuses (WorkspaceError, one line) a dirty worktree or a conflict,
        leaving everything as it was."""


class OutcomeDetector(Protocol):
    """Reads an agent's output line by line and says when the run is over."""

    def feed(self, line: str) -> Outcome | None:
        """Called with each line of output, escape sequences already stripped."""
