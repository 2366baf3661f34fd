"""Every hook pirun calls. This module is the reference for plugin authors.

Hooks are called through ``pm.hook.<name>(...)`` by the kernel. A plugin implements
any subset of them with functions decorated by ``pirun.hookimpl`` and registers
through the ``pirun`` entry-point group (or a ``plugins:`` entry in ``.pirun.yaml``).
An implementation may take fewer arguments than the spec names (pluggy passes only
those it asks for).

Each docstring says where the hook is called, because pirun runs in several places:

- the **CLI process**: the ``pirun`` command a person (or script) ran;
- the **start threads** of ``pirun batch``: a batch starts up to four issues at once,
  each in a thread of the CLI process, so hooks called there must be thread-safe;
- the **exec wrapper**: one process per session (``python -m pirun.wrapper``) that
  runs the agent on a pty, watches its output and records the outcome.

And what happens with the results: *first result wins* (the first non-None value
stops the call, ``firstresult``), *all results* (collected into a list), or *none*
(a notification).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer

    from pirun.config import Config
    from pirun.model import Conflict, Issue, Outcome, StackedWork, StatusRecord, Workspace
    from pirun.protocols import OutcomeDetector, WorkspaceManager
    from pirun.registry import Register

hookspec = pluggy.HookspecMarker("pirun")


# -- configuration ---------------------------------------------------------------


@hookspec
def pirun_config_options() -> Mapping[str, Any]:
    """Declare the configuration keys a plugin reads from ``.pirun.yaml``.

    Return a nested mapping of section name to ``pirun.api.Option`` (or to a further
    mapping), e.g. ``{"tmux": {"socket_name": Option(str, None, "...")}}``. Keys
    nobody declares are configuration errors.

    Called in: every process that loads a configuration (CLI process, exec wrapper),
    once, before the configuration is validated.
    Result: all results are merged.
    """


@hookspec(historic=True)
def pirun_configure(config: Config) -> None:
    """The configuration is loaded and valid.

    :param config: the repository's configuration; ``config.stash`` is the place
        for per-configuration plugin state.

    Called in: every process that loads a configuration, once. Historic: a plugin
    registered later is called too.
    Result: none.
    """


# -- issue discovery and dependencies ------------------------------------------------


@hookspec
def pirun_register_trackers(register: Register) -> None:
    """Register issue trackers by name: ``register("github", factory)``.

    :param register: ``register(name, factory)``; ``factory(config)`` returns a
        ``pirun.api.Tracker``. It is called only for the tracker ``tracker:`` names,
        at most once per configuration, and should be cheap: ``Tracker.parse_key``
        runs before anything is fetched (connect on the first ``fetch``). A name
        registered by two plugins is a configuration error.

    Called in: the CLI process (main thread), the first time the tracker is needed
    or when ``pirun plugins`` lists what is installed.
    Result: none; every implementation is called.
    """


@hookspec
def pirun_collect_blockers(
    config: Config, issues: list[Issue]
) -> Mapping[str, list[str]] | None:
    """Add "blocked by" edges beyond the tracker's own (``Issue.blocked_by``).

    :param config: the repository's configuration.
    :param issues: every issue of the run or batch.
    :return: issue key -> references of the issues that block it, as written
        (``"12"``, ``"owner/repo#12"``, ``"PROJ-12"``, e.g. parsed from
        ``Depends on #12``). The kernel puts each through ``Tracker.parse_key`` and
        drops those the tracker does not know and those naming the issue itself.

    Called in: the CLI process (main thread), once per ``pirun run`` or ``batch``.
    Result: all results are merged.
    """


# -- workspace, prompt and agent -------------------------------------------------------


@hookspec(firstresult=True)
def pirun_workspace_manager(config: Config) -> WorkspaceManager | None:
    """Return the object that creates and removes per-issue workspaces.

    :param config: the repository's configuration.
    :return: a ``pirun.api.WorkspaceManager``; a batch's start threads share it.

    Called in: the CLI process (main thread) and the exec wrapper, once per process.
    Result: the first non-None result wins.
    """


@hookspec(firstresult=True)
def pirun_workspace_changes(config: Config, workspace: Workspace) -> bool | None:
    """Tell whether the agent left anything in ``workspace``: commits on its branch
    that its base does not have, or uncommitted changes.

    :param config: the repository's configuration.
    :param workspace: the worktree and branch of an issue that completed.
    :return: True or False; None when this plugin cannot tell (not its workspace).

    Called in: the CLI process, when a batch ends, once per complete issue: an issue
    complete with no changes is shown as ``complete (no changes)``.
    Result: the first non-None result wins; None from all leaves it unknown.
    """


@hookspec(firstresult=True)
def pirun_render_prompt(
    config: Config, issue: Issue, workspace: Workspace, workflow: str | None
) -> str | None:
    """Return the prompt text for the agent working on ``issue``.

    :param config: the repository's configuration.
    :param issue: the issue, as the tracker reported it (its text is untrusted).
    :param workspace: the worktree and branch just made for it.
    :param workflow: the ``--workflow`` name, or None for the default.
    :return: the prompt; it is written to a file and never reaches a shell.

    Called in: the CLI process, before a session starts (in a start thread during
    ``pirun batch``).
    Result: the first non-None result wins.
    """


@hookspec(firstresult=True)
def pirun_agent_command(
    config: Config, issue: Issue, workspace: Workspace, prompt_file: Path
) -> list[str] | None:
    """Return the agent's argv (no shell involved); it runs in ``workspace.path``.

    :param config: the repository's configuration.
    :param issue: the issue (its title and body must not go into the argv: pass
        ``prompt_file`` instead).
    :param workspace: the issue's worktree and branch.
    :param prompt_file: the file holding the rendered prompt.

    Called in: the CLI process, before a session starts (in a start thread during
    ``pirun batch``).
    Result: the first non-None result wins.
    """


# -- sessions, detection, status ------------------------------------------------------


@hookspec
def pirun_register_backends(register: Register) -> None:
    """Register session backends by name: ``register("tmux", factory)``.

    :param register: ``register(name, factory)``; ``factory(config)`` returns a
        ``pirun.api.SessionBackend``. It is called only for the backend ``backend:``
        names (an unknown name is an error listing the registered ones) and may
        raise ``pirun.api.BackendError`` when its program is missing.

    Called in: the CLI process (main thread), the first time the backend is needed
    or when ``pirun plugins`` lists what is installed. The backend object is then
    used from a batch's start threads too.
    Result: none; every implementation is called.
    """


@hookspec
def pirun_make_detectors(config: Config, issue: str, prompt: str) -> list[OutcomeDetector]:
    """Return detectors that read the agent's output and recognise the end of a run.

    :param config: the repository's configuration.
    :param issue: the issue's key (``"42"``, ``"PROJ-7"``).
    :param prompt: the prompt the agent was given, so that an echoed prompt is not
        mistaken for output.
    :return: detectors; each is fed every output line, and the first outcome any of
        them reports ends the run.

    Called in: the exec wrapper (main thread), once when the session starts.
    Result: all results are collected.
    """


@hookspec(firstresult=True)
def pirun_attention_screens(config: Config) -> Mapping[str, str] | None:
    """Return the screens of the configured agent that need a person, and why.

    When the agent has written nothing for ``detect.idle_seconds`` and one of the
    regular expressions is found (``re.search``) in a line of its rendered screen,
    the run is shown as ``waiting`` with that reason (``waiting (sign-in
    required)``), before the input prompt is looked for: sign-in, API-key and
    trust-this-folder screens, a required update.

    :param config: the repository's configuration.
    :return: regex -> reason, tried in order; None for none.

    Called in: the exec wrapper (main thread), once when the session starts.
    Result: the first non-None result wins.
    """


@hookspec(firstresult=True)
def pirun_input_prompt(config: Config) -> str | None:
    """Return a regular expression for an agent that waits for a person.

    When the agent has written nothing for ``detect.idle_seconds`` and the pattern
    is found (``re.search``) in the last line of its output, cleaned of escape
    sequences, or in one of the bottom four lines of its rendered screen, the run is
    shown as ``waiting``. Full-screen agents redraw with cursor moves, so look for
    text shown only while waiting (a footer hint, a permission question) and allow
    for missing spaces in the stream's line (``\\s*``).

    :param config: the repository's configuration.

    Called in: the exec wrapper (main thread), once when the session starts.
    Result: the first non-None result wins.
    """


@hookspec
def pirun_register_stores(register: Register) -> None:
    """Register status stores by name: ``register("json", factory)``.

    :param register: ``register(name, factory)``; ``factory(config)`` returns a
        ``pirun.api.StatusStore``. It is called only for the store ``store:`` names
        (default ``json``). Several processes use the store at once: its ``update``
        must be atomic across them.

    Called in: the CLI process and the exec wrapper, the first time the store is
    needed. The store object is then used from a batch's start threads too.
    Result: none; every implementation is called.
    """


# -- lifecycle ----------------------------------------------------------------------


@hookspec
def pirun_session_started(config: Config, issue: Issue, workspace: Workspace, session: str) -> None:
    """An issue's session has started and its status is ``running``.

    :param config: the repository's configuration.
    :param issue: the issue started.
    :param workspace: its worktree and branch.
    :param session: the session's name in the backend.

    Called in: the CLI process (in a start thread during ``pirun batch``).
    Result: none.
    """


@hookspec
def pirun_session_finished(
    config: Config, record: StatusRecord, outcome: Outcome, workspace: Workspace | None
) -> None:
    """An issue's status turned ``complete`` or ``error``; called once per run.

    :param config: the repository's configuration.
    :param record: the final record; ``record.title`` is the issue's title.
    :param outcome: how the run ended and who decided (``outcome.source``).
    :param workspace: the issue's worktree and branch, or None if it is gone.

    Called in: whichever process saw the outcome first: the exec wrapper (most
    runs), a ``pirun`` command noticing a vanished session, a batch enforcing its
    timeout (main thread).
    Result: none.
    """


@hookspec
def pirun_session_waiting(config: Config, record: StatusRecord, last_line: str) -> None:
    """The agent has been quiet for ``detect.idle_seconds`` and its last output line
    looks like its input prompt: the run needs a person.

    :param config: the repository's configuration.
    :param record: the issue's record, now ``waiting``.
    :param last_line: the bottom line of the agent's screen as a terminal shows it (its
        last output line, escape sequences removed, before the screen is rendered).

    Called in: the exec wrapper, once per quiet spell (the status turns
    ``waiting``, and back to ``running`` when output resumes).
    Result: none.
    """


@hookspec
def pirun_branches_conflict(config: Config, conflict: Conflict) -> None:
    """Two issues' branches of a running batch would no longer merge cleanly.

    :param config: the repository's configuration.
    :param conflict: the two issues and the files their branches clash in.

    Called in: the ``pirun batch`` process, once when a check (every
    ``worktree.conflict_check`` seconds) first finds the pair in conflict; again
    only after a check found them clean in between.
    Result: none.
    """


@hookspec
def pirun_workspace_restacked(
    config: Config, workspace: Workspace, before: list[StackedWork], after: list[StackedWork]
) -> None:
    """``pirun restack`` brought a stacked branch up to date with its blockers.

    :param config: the repository's configuration.
    :param workspace: the dependent's workspace; its branch now holds the merges.
    :param before: the blockers' work it stood on before.
    :param after: what it stands on now: a blocker missing here has landed on the
        base (so, for example, a pull request opened against the blocker's branch
        should now target the base).

    Called in: the ``pirun restack`` process, after each branch that changed.
    Result: none.
    """


@hookspec
def pirun_session_cleaned(config: Config, issue: str, removed: list[str]) -> None:
    """``pirun cleanup`` removed an issue's session, worktree or status record.

    :param config: the repository's configuration.
    :param issue: the issue's key.
    :param removed: what was removed, e.g. ``["session pi-issue-4", "status record"]``.

    Called in: the CLI process (main thread).
    Result: none.
    """


@hookspec
def pirun_batch_finished(config: Config, results: list[StatusRecord]) -> None:
    """``pirun batch`` is over (also when Ctrl-C cut it short).

    :param config: the repository's configuration.
    :param results: every issue's final record; issues that never started have none.

    Called in: the CLI process (main thread), after the summary is printed.
    Result: none.
    """


# -- command line ----------------------------------------------------------------------


@hookspec
def pirun_register_commands(app: typer.Typer) -> None:
    """Add subcommands to the ``pirun`` typer app.

    :param app: the ``pirun`` app; get the runtime inside a command with
        ``pirun.api.runtime_of(ctx)``.

    Called in: the CLI process, once at start-up, before arguments are parsed
    (also when the repository's configuration is broken).
    Result: none.
    """
