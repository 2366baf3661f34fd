"""Lifecycle hooks from `.pirun.yaml`: commands run on start, success, error and cleanup.

Each hook is an argv list (a string is split like a shell would, never run by one).
Issue data reaches the command only as environment variables, with every control
character removed (line breaks and tabs become a space), so hostile issue text can
neither become part of a command nor forge lines in what a hook logs. A hook that
fails is logged and never fails the run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess

from pirun.api import (
    Config,
    Issue,
    Option,
    Outcome,
    Status,
    StatusRecord,
    Workspace,
    get_logger,
    hookimpl,
)

log = get_logger()

#: Control characters that separate words or lines (tab, LF, VT, FF, CR, NEL): a run
#: of them becomes one space, so "two\nlines" stays two words.
_BREAKS = re.compile(r"[\t\n\v\f\r\x85]+")
#: Every other control character: C0, DEL and C1.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
HOOK_TIMEOUT = 300


@hookimpl
def pirun_config_options() -> dict[str, object]:
    hook = "Command (argv list or string, never run by a shell) run {when}."
    return {
        "hooks": {
            "on_start": Option((list, str), None, hook.format(when="after a session starts"),
                               items=str),
            "on_success": Option((list, str), None, hook.format(when="when an issue completes"),
                                 items=str),
            "on_error": Option((list, str), None, hook.format(when="when an issue fails"),
                               items=str),
            "on_cleanup": Option((list, str), None,
                                 hook.format(when="after `pirun cleanup` removed an issue"),
                                 items=str),
        }
    }


def clean(value: str) -> str:
    """`value` as a hook may see it: one line, no control character at all.

    Hook scripts echo, log and pass these values on; a newline or an escape in an
    issue title could forge a line of their output or drive a terminal.
    """
    return _CONTROL.sub("", _BREAKS.sub(" ", value))


def run_hook(config: Config, name: str, env: dict[str, str]) -> None:
    command = config.get(f"hooks.{name}")
    if not command:
        return
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    full_env = {**os.environ, **{key: clean(value) for key, value in env.items()}}
    try:
        proc = subprocess.run(
            argv, cwd=config.root, env=full_env, stdin=subprocess.DEVNULL,
            capture_output=True, timeout=HOOK_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("lifecycle hook failed", hook=name, error=str(exc))
        return
    if proc.returncode != 0:
        log.warning(
            "lifecycle hook failed", hook=name, exit_code=proc.returncode,
            stderr=proc.stderr.decode("utf-8", "replace")[-500:],
        )


def _issue_env(config: Config, key: str) -> dict[str, str]:
    return {
        # The seed's name; it holds the key, which is the number for GitHub issues.
        "PIRUN_ISSUE_NUMBER": key,
        "PIRUN_ISSUE": key,
        "PIRUN_SESSION": config.session_name(key),
        "PIRUN_REPO": str(config.root),
    }


@hookimpl
def pirun_session_started(config: Config, issue: Issue, workspace: Workspace, session: str) -> None:
    run_hook(config, "on_start", {
        **_issue_env(config, issue.key),
        "PIRUN_ISSUE_TITLE": issue.title,
        "PIRUN_BRANCH": workspace.branch,
        "PIRUN_WORKTREE": str(workspace.path),
        "PIRUN_STATUS": Status.RUNNING.value,
    })


@hookimpl
def pirun_session_finished(
    config: Config, record: StatusRecord, outcome: Outcome, workspace: Workspace | None
) -> None:
    name = "on_success" if record.status is Status.COMPLETE else "on_error"
    run_hook(config, name, {
        **_issue_env(config, record.issue),
        "PIRUN_ISSUE_TITLE": record.title or "",
        "PIRUN_BRANCH": workspace.branch if workspace else "",
        "PIRUN_WORKTREE": str(workspace.path) if workspace else "",
        "PIRUN_STATUS": record.status.value,
        "PIRUN_ERROR_MESSAGE": record.error_message or "",
    })


@hookimpl
def pirun_session_cleaned(config: Config, issue: str, removed: list[str]) -> None:
    env = {**_issue_env(config, issue), "PIRUN_REMOVED": ", ".join(removed)}
    run_hook(config, "on_cleanup", env)
