"""Every hook pirun calls. This module is the reference for plugin authors.

Hooks are called through ``pm.hook.<name>(...)`` by the kernel. A plugin implements
any subset of them with functions decorated by ``pirun.hookimpl`` and registers
through the ``pirun`` entry-point group (or a ``plugins:`` entry in ``.pirun.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer

    from pirun.config import Config
    from pirun.model import Issue, IssueRef, Outcome, StatusRecord, Workspace
    from pirun.protocols import OutcomeDetector, WorkspaceManager
    from pirun.registry import Register

hookspec = pluggy.HookspecMarker("pirun")


# -- configuration ---------------------------------------------------------------


@hookspec
def pirun_config_options() -> Mapping[str, Any]:
    """Declare the configuration keys a plugin reads from ``.pirun.yaml``.

    Called once while the configuration is loaded, before it is validated.
    Return a nested mapping of section name to ``pirun.config.Option`` (or to a
    further mapping), e.g. ``{"tmux": {"socket_name": Option(str, None, "...")}}``.
    Keys nobody declares are configuration errors. All results are merged.
    """


@hookspec(historic=True)
def pirun_configure(config: Config) -> None:
    """Called once the configuration is loaded and valid.

    Historic: a plugin registered later is called too.
    """


# -- issue discovery and dependencies ------------------------------------------------


@hookspec
def pirun_register_trackers(register: Register) -> None:
    """Register issue trackers by name: ``register("github", factory)``.

    Called once per process, the first time the kernel needs the tracker (or when
    ``pirun plugins`` lists what is installed). ``factory(config)`` returns a
    ``pirun.protocols.Tracker``; it is called only for the tracker that
    ``tracker:`` in ``.pirun.yaml`` names, at most once per configuration. A name
    registered by two plugins is a configuration error. Every implementation is
    called.
    """


@hookspec
def pirun_collect_blockers(
    config: Config, issues: list[Issue]
) -> Mapping[IssueRef, list[IssueRef]] | None:
    """Add "blocked by" edges beyond the tracker's own (``Issue.blocked_by``).

    Called once per run or batch with every issue in it. Return a mapping of issue
    to the issues that block it (e.g. parsed from ``Depends on #12`` in the body).
    Every result is merged with the others.
    """


# -- workspace, prompt and agent -------------------------------------------------------


@hookspec(firstresult=True)
def pirun_workspace_manager(config: Config) -> WorkspaceManager | None:
    """Return the object that creates and removes per-issue workspaces.

    Called once per command that touches workspaces.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def pirun_render_prompt(
    config: Config, issue: Issue, workspace: Workspace, workflow: str | None
) -> str | None:
    """Return the prompt text for the agent working on ``issue``.

    Called before a session starts; ``workflow`` is the ``--workflow`` name or None.
    The text is written to a file; it never reaches a shell.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def pirun_agent_command(
    config: Config, issue: Issue, workspace: Workspace, prompt_file: Path
) -> list[str] | None:
    """Return the agent's argv (no shell involved); it runs with ``workspace.path``
    as working directory.

    Called before a session starts. Stops at the first non-None result.
    """


# -- sessions, detection, status ------------------------------------------------------


@hookspec
def pirun_register_backends(register: Register) -> None:
    """Register session backends by name: ``register("tmux", factory)``.

    Called once per process, the first time the kernel needs the backend (or when
    ``pirun plugins`` lists what is installed). ``factory(config)`` returns a
    ``pirun.protocols.SessionBackend``; it is called only for the backend that
    ``backend:`` names (an unknown name is an error listing the registered ones),
    and may raise ``pirun.errors.BackendError`` when its program is missing.
    Every implementation is called.
    """


@hookspec
def pirun_make_detectors(config: Config, issue: int, prompt: str) -> list[OutcomeDetector]:
    """Return detectors that read the agent's output and recognise the end of a run.

    Called by the exec wrapper when a session starts, with the issue number and the
    prompt the agent was given (so that an echoed prompt is not mistaken for output).
    Each detector is fed every output line; the first outcome reported wins. All
    results are collected.
    """


@hookspec(firstresult=True)
def pirun_input_prompt(config: Config) -> str | None:
    """Return a regular expression for an agent that waits for a person.

    Called by the exec wrapper when a session starts. When the agent has written
    nothing for ``detect.idle_seconds`` and the pattern is found (``re.search``) in
    the last line of its output, cleaned of escape sequences, the run is shown as
    ``waiting``. Full-screen agents redraw with cursor moves, so look for text
    shown only while waiting (a footer hint, a permission question) and allow
    for missing spaces (``\\s*``). Stops at the first non-None result.
    """


@hookspec
def pirun_register_stores(register: Register) -> None:
    """Register status stores by name: ``register("json", factory)``.

    Called once per process, the first time the kernel needs the store.
    ``factory(config)`` returns a ``pirun.protocols.StatusStore``; it is called only
    for the store that ``store:`` names (default ``json``). Every implementation is
    called.
    """


# -- lifecycle ----------------------------------------------------------------------


@hookspec
def pirun_session_started(config: Config, issue: Issue, workspace: Workspace, session: str) -> None:
    """Called after an issue's session has started and its status is ``running``."""


@hookspec
def pirun_session_finished(
    config: Config, record: StatusRecord, outcome: Outcome, workspace: Workspace | None
) -> None:
    """Called once when an issue's status turns ``complete`` or ``error``.

    ``record.title`` is the issue's title; ``workspace`` its worktree and branch
    (None if it is gone).

    Called in whichever process saw the outcome first (the exec wrapper, a
    ``pirun`` command noticing a vanished session, a batch enforcing a timeout).
    """


@hookspec
def pirun_session_waiting(config: Config, record: StatusRecord, last_line: str) -> None:
    """Called when an agent has been quiet for ``detect.idle_seconds`` and its last
    output line looks like its input prompt: the run needs a person.

    Called by the exec wrapper, once per quiet spell (the status turns ``waiting``
    and back to ``running`` when output resumes).
    """


@hookspec
def pirun_session_cleaned(config: Config, issue: int, removed: list[str]) -> None:
    """Called after ``pirun cleanup`` removed an issue's session, worktree or status."""


@hookspec
def pirun_batch_finished(config: Config, results: list[StatusRecord]) -> None:
    """Called at the end of ``pirun batch`` with every issue's final record."""


# -- command line ----------------------------------------------------------------------


@hookspec
def pirun_register_commands(app: typer.Typer) -> None:
    """Add subcommands to the ``pirun`` typer app. Called once at start-up."""
