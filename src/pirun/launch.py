"""Starting one issue: checks, workspace, prompt, agent, session, status."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pirun.blockers import open_blockers
from pirun.errors import (
    BlockedError,
    ConcurrencyLimitReached,
    ConfigError,
    PirunError,
    SessionExists,
    os_error_reason,
)
from pirun.keys import display_key
from pirun.model import (
    PROMPT_FILE,
    Issue,
    Outcome,
    SessionSpec,
    StackedWork,
    Status,
    StatusRecord,
    Workspace,
    utc_now,
)
from pirun.outcomes import forget_cleaned, record_outcome
from pirun.protocols import StackingWorkspaceManager
from pirun.runtime import Runtime
from pirun.screen import screen_path
from pirun.sessions import active_records, starting_path, this_process
from pirun.wrapper import RunSpec, wrapper_argv


@dataclass(frozen=True)
class LaunchOptions:
    base: str | None = None
    force: bool = False
    ignore_blockers: bool = False
    workflow: str | None = None
    timeout: float | None = None
    #: The blockers' work the new branch starts from, in merge order (`worktree.stack`).
    stack_on: tuple[StackedWork, ...] = ()


def limit_message(rt: Runtime, active: list[StatusRecord]) -> str:
    lines = [f"Maximum concurrent sessions ({rt.config.max_concurrent}) reached."]
    lines.append(f"Currently running ({len(active)} sessions):")
    lines += [f"  - {record.session}" for record in active]
    lines.append("Use --force to override or `pirun cleanup` to remove finished sessions.")
    return "\n".join(lines)


def free_port(taken: set[int]) -> int:
    """A TCP port free now and not handed to another running session (which may not
    have bound it yet)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in taken:
            return port


def _reserve(rt: Runtime, issue: Issue, options: LaunchOptions) -> StatusRecord:
    """Check session and limit, and claim the slot, atomically across processes."""
    config = rt.config
    session = config.session_name(issue.key)
    with rt.lock("sessions"):
        active = active_records(rt)
        if rt.backend.exists(session):
            if not options.force:
                raise SessionExists(
                    f"session {session} already exists (use --force to replace it)"
                )
            record_outcome(rt, issue.key, Outcome.error("replaced by a new run", "force"))
            rt.backend.kill(session)
        elif (
            config.max_concurrent
            and not options.force
            and len(active) >= config.max_concurrent
        ):
            raise ConcurrencyLimitReached(limit_message(rt, active))
        starting = starting_path(rt, issue.key)
        try:
            config.run_dir.mkdir(parents=True, exist_ok=True)
            starting.write_text(this_process())
        except OSError as exc:
            with contextlib.suppress(OSError):
                starting.unlink()
            reason = os_error_reason(exc, with_path=True)
            raise PirunError(f"cannot start issue {display_key(issue.key)}: {reason}") from None
        port = free_port({r.port for r in active if r.port is not None})
        record = StatusRecord(
            issue=issue.key,
            status=Status.RUNNING,
            session=session,
            started_at=utc_now(),
            run_id=uuid.uuid4().hex,
            title=issue.title,
            port=port,
        )
        rt.store.put(record)
        forget_cleaned(rt, issue.key)
    return record


@contextlib.contextmanager
def _failing_records_error(rt: Runtime, record: StatusRecord) -> Iterator[None]:
    """A start that fails after the slot was claimed leaves an `error` record saying
    why, not a `running` record with no session."""
    try:
        yield
    except PirunError as exc:
        record_outcome(rt, record.issue, Outcome.error(str(exc), "launch"), run_id=record.run_id)
        raise
    except OSError as exc:
        # A full disk, a worktree removed under us: one line, not a traceback.
        reason = os_error_reason(exc, with_path=True)
        message = f"cannot start issue {display_key(record.issue)}: {reason}"
        record_outcome(rt, record.issue, Outcome.error(message, "launch"), run_id=record.run_id)
        raise PirunError(message) from None
    except BaseException:
        record_outcome(
            rt, record.issue, Outcome.error("interrupted while starting", "launch"),
            run_id=record.run_id,
        )
        raise
    finally:
        with contextlib.suppress(OSError):
            starting_path(rt, record.issue).unlink()


def _rotate_log(path: Path) -> None:
    """Keep the previous run's log beside the new one instead of overwriting it."""
    if path.exists() and path.stat().st_size:
        os.replace(path, path.with_suffix(".log.prev"))


def create_workspace(rt: Runtime, issue: Issue, options: LaunchOptions) -> Workspace:
    manager = rt.workspaces
    if options.stack_on and isinstance(manager, StackingWorkspaceManager):
        return manager.create_stacked(issue, options.base, options.force, options.stack_on)
    return manager.create(issue, options.base, options.force)


def write_prompt(rt: Runtime, issue: Issue, workspace: Workspace, workflow: str | None) -> Path:
    prompt = rt.pm.hook.pirun_render_prompt(
        config=rt.config, issue=issue, workspace=workspace, workflow=workflow
    )
    if prompt is None:
        raise ConfigError("no plugin renders prompts (see `pirun plugins`)")
    path = workspace.path / PROMPT_FILE
    path.write_text(prompt, encoding="utf-8")
    return path


def launch(rt: Runtime, issue: Issue, options: LaunchOptions) -> StatusRecord:
    """Start the agent for `issue` and return its `running` record."""
    if not options.ignore_blockers:
        blockers = open_blockers(rt, issue)
        if blockers:
            listing = "\n".join(f"  {blocker.describe()}" for blocker in blockers)
            raise BlockedError(
                f"Issue {display_key(issue.key)} has open blockers "
                f"(use --ignore-blockers to start anyway):\n{listing}"
            )
    config = rt.config
    record = _reserve(rt, issue, options)
    with _failing_records_error(rt, record):
        workspace = create_workspace(rt, issue, options)
        prompt_file = write_prompt(rt, issue, workspace, options.workflow)
        argv = rt.pm.hook.pirun_agent_command(
            config=config, issue=issue, workspace=workspace, prompt_file=prompt_file
        )
        if not argv:
            raise ConfigError("no agent command: set agent.preset or agent.command")
        log_file = config.log_path(issue.key)
        config.log_dir.mkdir(parents=True, exist_ok=True)
        _rotate_log(log_file)
        config.exit_path(issue.key).unlink(missing_ok=True)
        screen_path(log_file).unlink(missing_ok=True)
        env = {
            "PIRUN_ISSUE": issue.key,
            "PIRUN_BRANCH": workspace.branch,
            "PIRUN_WORKTREE": str(workspace.path),
            "PIRUN_SESSION": record.session,
            "PIRUN_REPO": str(config.root),
            "PIRUN_PORT": str(record.port),
        }
        spec = RunSpec(
            repo=str(config.root),
            issue=issue.key,
            session=record.session,
            run_id=record.run_id or "",
            argv=list(argv),
            cwd=str(workspace.path),
            prompt_file=str(prompt_file),
            log_file=str(log_file),
            exit_file=str(config.exit_path(issue.key)),
            env=env,
            timeout=options.timeout,
            runtime=rt.snapshot(),
        )
        spec_path = config.run_spec_path(issue.key)
        spec.write(spec_path)
        rt.backend.start(
            SessionSpec(
                name=record.session,
                argv=wrapper_argv(spec_path),
                cwd=workspace.path,
                env=env,
                log_path=log_file,
            )
        )
    rt.pm.hook.pirun_session_started(
        config=config, issue=issue, workspace=workspace, session=record.session
    )
    return record
