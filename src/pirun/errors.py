"""User-facing errors. Each kind maps to one documented exit code in the CLI.

Exit codes: 0 success, 1 failure, 2 blocked (open blockers, circular dependency,
timed out waiting), 3 usage or configuration error, 130 interrupted.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import yaml


class PirunError(Exception):
    """An error the user can act on; printed as one line, never as a traceback."""

    exit_code = 1


class UsageError(PirunError):
    """Bad arguments or options."""

    exit_code = 3


class ConfigError(UsageError):
    """`.pirun.yaml` is malformed: bad YAML, an unknown key or a wrong type."""


class TrackerError(PirunError):
    """The issue tracker could not answer (network, auth, malformed data)."""


class IssueNotFound(TrackerError):
    def __init__(self, key: str | int) -> None:
        # Imported here: pirun.keys raises UsageError from this module.
        from pirun.keys import display_key

        self.key = str(key)
        super().__init__(f"Issue {display_key(self.key)} not found")


class BlockedError(PirunError):
    """The issue has open blockers."""

    exit_code = 2


class CircularDependency(PirunError):
    exit_code = 2

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("Circular dependency: " + " -> ".join(cycle))
        self.cycle = cycle


class ConcurrencyLimitReached(PirunError):
    """`parallel.max_concurrent` sessions are already running."""


class SessionExists(PirunError):
    """A session for the issue is already running and `--force` was not given."""


class WorkspaceError(PirunError):
    """Creating or removing a git worktree failed."""


class StackConflict(WorkspaceError):
    """A dependent's blockers' branches do not merge: it cannot start from their work."""

    def __init__(self, message: str, files: tuple[str, ...]) -> None:
        super().__init__(message)
        self.files = files


class BackendError(PirunError):
    """The session backend (tmux, process, ...) failed."""


class StatusStoreError(PirunError):
    """Status records could not be read or written."""


class LockBusy(PirunError):
    """Another pirun process holds the repository lock."""


def os_error_reason(exc: OSError, *, with_path: bool = False) -> str:
    """An OSError in a few words for a one-line message ("disk full", "Permission
    denied"). Without the path by default, for a message that says which path it
    was about; `with_path` appends it, for one that does not."""
    reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
    return f"{reason}: {exc.filename}" if with_path and exc.filename else reason


def yaml_error_message(subject: str, exc: yaml.YAMLError, first_line: int = 1) -> str:
    """A YAML parse error as one line, `SUBJECT (line N): PROBLEM`, instead of
    PyYAML's multi-line report. `first_line` is the number, in the file the user
    edits, of the parsed text's first line (YAML marks count from zero)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + first_line})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or "invalid YAML"
    return f"{subject}{where}: {problem}"
