"""User-facing errors. Each kind maps to one documented exit code in the CLI.

Exit codes: 0 success, 1 failure, 2 blocked (open blockers, circular dependency,
timed out waiting), 3 usage or configuration error, 130 interrupted.
"""

import errno


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
    def __init__(self, number: int | str) -> None:
        super().__init__(f"Issue #{number} not found")
        self.number = number


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


class BackendError(PirunError):
    """The session backend (tmux, process, ...) failed."""


class StatusStoreError(PirunError):
    """Status records could not be read or written."""


class LockBusy(PirunError):
    """Another pirun process holds the repository lock."""


def os_error_reason(exc: OSError) -> str:
    """An OSError in a few words for a one-line message ("disk full", "Permission
    denied"), without the path: the message says which path it was about."""
    return "disk full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
