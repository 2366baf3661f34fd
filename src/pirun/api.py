"""What a plugin may import: the one stable surface of pirun for plugin authors.

Bundled and third-party plugins import from here and nowhere else in pirun (as
pytest plugins use `pytest` rather than `_pytest`). Everything listed in
`__all__` keeps its meaning between minor versions; the modules behind it may move.

The light part (hook marker, configuration, plain data, protocols, errors, small
helpers) is imported at once. The parts that pull in rich, watchfiles or the
runtime are imported on first use, because every session's exec wrapper loads
every plugin and pays for what they import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pirun import __version__, git, hookimpl, procfs
from pirun.atomic import write_text
from pirun.config import Config, Option
from pirun.errors import (
    BackendError,
    ConfigError,
    IssueNotFound,
    PirunError,
    StackConflict,
    StatusStoreError,
    TrackerError,
    UsageError,
    WorkspaceError,
    os_error_reason,
    yaml_error_message,
)
from pirun.keys import MAX_NAME, display_key, is_number, json_key, key_from_name, key_name, sort_key
from pirun.locks import file_lock
from pirun.log import Logger, get_logger
from pirun.model import (
    PROMPT_FILE,
    Blocker,
    Conflict,
    Issue,
    IssueState,
    JsonFile,
    Outcome,
    Selection,
    SessionSpec,
    StackedWork,
    Status,
    StatusRecord,
    Workspace,
    shown_files,
    utc_now,
)
from pirun.protocols import (
    OutcomeDetector,
    SelectingTracker,
    SessionBackend,
    StackingWorkspaceManager,
    StatusStore,
    Tracker,
    WorkspaceManager,
    check_session_name,
)
from pirun.registry import Register
from pirun.stash import Stash, StashKey

if TYPE_CHECKING:
    import typer

    from pirun.conflicts import conflicts_line, load_conflicts
    from pirun.progress import last_log_line
    from pirun.render import human_age
    from pirun.runtime import Runtime
    from pirun.sessions import reconcile, session_rows, stop_issue
    from pirun.tables import Column, fitted_table
    from pirun.watch import StatusEvents

#: Names imported on first use, and the module each comes from.
_LAZY = {
    "Runtime": "pirun.runtime",
    "reconcile": "pirun.sessions",
    "session_rows": "pirun.sessions",
    "stop_issue": "pirun.sessions",
    "StatusEvents": "pirun.watch",
    "human_age": "pirun.render",
    "last_log_line": "pirun.progress",
    "load_conflicts": "pirun.conflicts",
    "conflicts_line": "pirun.conflicts",
    "Column": "pirun.tables",
    "fitted_table": "pirun.tables",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pirun.api' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def runtime_of(ctx: typer.Context) -> Runtime:
    """The runtime of the running `pirun` command, for a plugin's command: declare a
    `ctx: typer.Context` parameter and pass it here. A broken configuration raises
    its one-line ConfigError here, which `pirun` reports with exit code 3."""
    from pirun.invocation import Invocation

    invocation = ctx.find_object(Invocation)
    if invocation is None:
        raise PirunError("runtime_of() needs the context of a `pirun` command")
    return invocation.runtime()


__all__ = [
    "MAX_NAME",
    "PROMPT_FILE",
    "BackendError",
    "Blocker",
    "Column",
    "Config",
    "ConfigError",
    "Conflict",
    "Issue",
    "IssueNotFound",
    "IssueState",
    "JsonFile",
    "Logger",
    "Option",
    "Outcome",
    "OutcomeDetector",
    "PirunError",
    "Register",
    "Runtime",
    "SelectingTracker",
    "Selection",
    "SessionBackend",
    "SessionSpec",
    "StackConflict",
    "StackedWork",
    "StackingWorkspaceManager",
    "Stash",
    "StashKey",
    "Status",
    "StatusEvents",
    "StatusRecord",
    "StatusStore",
    "StatusStoreError",
    "Tracker",
    "TrackerError",
    "UsageError",
    "Workspace",
    "WorkspaceError",
    "WorkspaceManager",
    "__version__",
    "check_session_name",
    "conflicts_line",
    "display_key",
    "file_lock",
    "fitted_table",
    "get_logger",
    "git",
    "hookimpl",
    "human_age",
    "is_number",
    "json_key",
    "key_from_name",
    "key_name",
    "last_log_line",
    "load_conflicts",
    "os_error_reason",
    "procfs",
    "reconcile",
    "runtime_of",
    "session_rows",
    "shown_files",
    "sort_key",
    "stop_issue",
    "utc_now",
    "write_text",
    "yaml_error_message",
]
