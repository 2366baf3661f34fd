"""The `pirun` command line: parse, call the kernel, render. Errors map to exit codes here."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pirun import __version__, render
from pirun.errors import PirunError, UsageError
from pirun.invocation import Invocation
from pirun.keys import display_key, json_key
from pirun.log import configure_logging
from pirun.render import human_age, print_json, status_line
from pirun.tables import Column, plain_columns

# Each command imports what it needs when it runs: `pirun status` should not pay
# for the scheduler, rich's live display or the exec wrapper.
if TYPE_CHECKING:
    from pirun.model import StatusRecord
    from pirun.runtime import Runtime
    from pirun.scheduler import BatchOptions, Item

app = typer.Typer(
    name="pirun",
    help="Run a coding agent on each issue, in parallel, each in its own worktree and session.",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


STATE = Invocation()


def _version(value: bool) -> None:
    if value:
        print(f"pirun {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    directory: Annotated[
        Path | None, typer.Option("-C", "--directory", help="Run as if started in this directory.")
    ] = None,
    verbose: Annotated[int, typer.Option("-v", "--verbose", count=True, help="More logging.")] = 0,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only print summaries.")] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log as JSON lines.")] = False,
    plugin: Annotated[
        list[str] | None,
        typer.Option("-p", help="`-p no:NAME` disables plugin NAME (repeatable)."),
    ] = None,
    repo: Annotated[
        str | None, typer.Option("--repo", help="Tracker repository owner/name.")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    configure_logging(verbose, log_json)
    ctx.obj = STATE  # plugin commands reach it through pirun.api.runtime_of(ctx)
    STATE.quiet = quiet
    for option in plugin or []:
        if not option.startswith("no:"):
            raise UsageError(f"-p takes no:NAME to disable a plugin, got '{option}'")
    if directory is not None and directory.resolve() != STATE.directory.resolve():
        STATE.directory = directory
        STATE._runtime = None
        STATE.runtime_error = None


def _issue_keys(rt: Runtime, values: list[str]) -> list[str]:
    """What was typed, as the tracker's keys (`#42` and `42` are one issue)."""
    return list(dict.fromkeys(rt.require_key(value) for value in values))


STATUS_COLUMNS = (Column("Issue"), Column("State"), Column("Message", give_way=1, min_width=20))
LIST_COLUMNS = (
    Column("Session"), Column("Worktree", give_way=1, min_width=16), Column("Status"),
    Column("Age", justify="right"),
)


def _width() -> int | None:
    """The terminal's width, or None for a pipe (whole cells for scripts)."""
    return render.stdout.width if render.stdout.is_terminal else None


# -- run --------------------------------------------------------------------------------


@app.command()
def run(
    issue: Annotated[str, typer.Argument(help="Issue key: 42, #42, PROJ-123.")],
    base: Annotated[str | None, typer.Option(help="Branch to start from.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing session and worktree.")
    ] = False,
    no_attach: Annotated[
        bool, typer.Option("--no-attach", help="Return once the session runs.")
    ] = False,
    ignore_blockers: Annotated[
        bool, typer.Option("--ignore-blockers", help="Start even with open blockers.")
    ] = False,
    workflow: Annotated[str | None, typer.Option(help="Prompt workflow name.")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Fail the run after this many seconds.")
    ] = None,
) -> None:
    """Start the agent on one issue in a new worktree and session."""
    from pirun.launch import LaunchOptions, launch

    rt = STATE.runtime()
    (key,) = _issue_keys(rt, [issue])
    found = rt.fetch_issue(key)
    record = launch(
        rt,
        found,
        LaunchOptions(
            base=base, force=force, ignore_blockers=ignore_blockers,
            workflow=workflow, timeout=timeout,
        ),
    )
    workspace = rt.workspaces.find(key)
    where = f" in {rt.config.relative(workspace.path)} on {workspace.branch}" if workspace else ""
    render.stdout.print(f"Started {record.session} for issue {display_key(key)}{where}")
    if not no_attach and sys.stdin.isatty() and sys.stdout.isatty():
        rt.backend.attach(record.session)


# -- status and list ------------------------------------------------------------------------


@app.command()
def status(
    issue: Annotated[str | None, typer.Argument(help="Issue key (default: all).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the status of one issue or of all."""
    from pirun.conflicts import conflicts_json, conflicts_line, conflicts_of, load_conflicts
    from pirun.sessions import reconcile

    rt = STATE.runtime()
    reconcile(rt)
    conflicts = load_conflicts(rt.config)

    def as_json(record: StatusRecord) -> dict[str, Any]:
        data = record.to_dict()
        if clashes := conflicts_json(conflicts, record.issue):
            data["conflicts"] = clashes
        return data

    def note(record: StatusRecord) -> str:
        clashes = conflicts_line(conflicts, record.issue)
        return "; ".join(part for part in (record.error_message, clashes) if part)

    if issue is not None:
        (key,) = _issue_keys(rt, [issue])
        record = rt.store.get(key)
        if record is None:
            raise PirunError(f"Issue {display_key(key)}: no status recorded")
        if json_output:
            print_json(as_json(record))
            return
        render.stdout.print(status_line(record), markup=False)
        if record.error_message:
            render.stdout.print(f"Error: {record.error_message}", markup=False)
        for conflict in conflicts_of(conflicts, key):
            render.stdout.print(f"Warning: {conflict.describe(key)}", markup=False)
        return
    records = rt.store.list()
    if json_output:
        print_json([as_json(record) for record in records])
        return
    if not records:
        render.stdout.print("No status recorded.")
    rows = [[display_key(record.issue), record.status.value, note(record)] for record in records]
    for line in plain_columns(STATUS_COLUMNS, rows, _width(), header=False):
        render.stdout.print(line, markup=False)


@app.command(name="list")
def list_sessions(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List live sessions: name, worktree, status, age."""
    from pirun.sessions import reconcile, session_rows

    rt = STATE.runtime()
    reconcile(rt)
    rows = session_rows(rt)
    if json_output:
        print_json(rows)
        return
    render.stdout.print(f"Active sessions ({len(rows)}):")
    table = [
        [
            row["session"],
            row["worktree"] or "-",
            f"{row['status']} ({row['reason']})" if row["reason"] else row["status"],
            human_age(row["age_seconds"]) if row["age_seconds"] is not None else "-",
        ]
        for row in rows
    ]
    for line in plain_columns(LIST_COLUMNS, table, _width(), indent="  ", header=False):
        render.stdout.print(line, markup=False)


# -- attach, stop, logs, signal ---------------------------------------------------------------


@app.command()
def attach(
    issue: Annotated[str, typer.Argument(help="Issue key: 42, #42, PROJ-123.")],
) -> None:
    """Connect this terminal to the issue's session."""
    rt = STATE.runtime()
    (key,) = _issue_keys(rt, [issue])
    name = rt.config.session_name(key)
    if not rt.backend.exists(name):
        raise PirunError(f"no session for issue {display_key(key)}")
    rt.backend.attach(name)


@app.command()
def stop(
    issues: Annotated[list[str] | None, typer.Argument(help="Issue keys.")] = None,
    all_sessions: Annotated[bool, typer.Option("--all", help="Stop every session.")] = False,
) -> None:
    """Stop sessions; their status becomes `error: stopped by user`."""
    from pirun.sessions import stop_issue

    rt = STATE.runtime()
    if all_sessions:
        keys = [
            k for k in (rt.issue_of_session(s) for s in rt.backend.list(rt.config.prefix))
            if k is not None
        ]
    elif issues:
        keys = _issue_keys(rt, issues)
    else:
        raise UsageError("give issue keys or --all")
    for key in keys:
        if stop_issue(rt, key):
            render.stdout.print(f"Stopped {rt.config.session_name(key)}")
        else:
            render.stdout.print(f"No session for issue {display_key(key)}")


@app.command()
def logs(
    issue: Annotated[str, typer.Argument(help="Issue key: 42, #42, PROJ-123.")],
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing output.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Keep terminal escape sequences.")] = False,
    screen: Annotated[
        bool, typer.Option("--screen", help="Print what the agent's screen shows now.")
    ] = False,
) -> None:
    """Print the agent's output."""
    from pirun.follow import print_log

    if screen and (follow or raw):
        raise UsageError("--screen goes without --follow and --raw")
    rt = STATE.runtime()
    (key,) = _issue_keys(rt, [issue])
    path = rt.config.log_path(key)
    if not path.exists():
        raise PirunError(f"no log for issue {display_key(key)}")
    if screen:
        from pirun.screen import log_screen, screen_path

        # The exec wrapper's own screen (kept current while output flows, final once
        # the agent is gone) saw all of the output; the log's tail is the fallback.
        shown = screen_path(path)
        text = shown.read_text(encoding="utf-8", errors="replace") if shown.is_file() else ""
        sys.stdout.write((text.rstrip("\n") or log_screen(path).text()) + "\n")
        return
    print_log(rt, key, path, follow=follow, raw=raw or sys.stdout.isatty())


@app.command(name="signal")
def signal_command(
    result: Annotated[str, typer.Argument(help="complete or error.")],
    message: Annotated[list[str] | None, typer.Argument(help="Error message.")] = None,
    issue: Annotated[
        str | None, typer.Option(help="Issue key (default: $PIRUN_ISSUE).")
    ] = None,
) -> None:
    """Report the run's result from inside its worktree (for agents and scripts)."""
    from pirun.model import Outcome
    from pirun.outcomes import record_outcome

    if result not in ("complete", "error"):
        raise UsageError(f"signal takes complete or error, got '{result}'")
    key_text = issue or os.environ.get("PIRUN_ISSUE")
    if not key_text:
        raise UsageError("no issue: run inside a pirun session or pass --issue KEY")
    if os.environ.get("PIRUN_REPO") and STATE.directory == Path.cwd():
        STATE.directory = Path(os.environ["PIRUN_REPO"])
    rt = STATE.runtime()
    (key,) = _issue_keys(rt, [key_text])
    text = " ".join(message or []) or "agent reported an error"
    outcome = Outcome.complete("signal") if result == "complete" else Outcome.error(text, "signal")
    record = record_outcome(rt, key, outcome)
    if record is None:
        raise PirunError(f"issue {display_key(key)} has no running session to signal")
    render.stdout.print(status_line(record))


@app.command()
def nudge(
    issue: Annotated[str, typer.Argument(help="Issue key: 42, #42, PROJ-123.")],
    text: Annotated[str, typer.Argument(help="Text for the agent (sent as a paste).")],
) -> None:
    """Send text to an agent's session as a paste followed by Enter (never typed as keys)."""
    rt = STATE.runtime()
    (key,) = _issue_keys(rt, [issue])
    name = rt.config.session_name(key)
    if not rt.backend.exists(name):
        raise PirunError(f"no session for issue {display_key(key)}")
    rt.backend.send_text(name, text)
    render.stdout.print(f"Sent {len(text)} characters to {name}")


# -- batch, wait, demo -------------------------------------------------------------------------


def _progress(rt: Runtime, items: Callable[[], list[Item]], json_output: bool) -> Any:
    from pirun.progress import LineProgress, LiveProgress, NoProgress

    if STATE.quiet or json_output:
        return NoProgress(render.stderr)
    if render.stdout.is_terminal:
        return LiveProgress(render.stdout, items, rt.config.log_path)
    return LineProgress(render.stdout)


def _batch_exit(items: list[Item], interrupted: bool) -> int:
    from pirun.scheduler import ItemState

    if interrupted:
        return 130
    return 0 if all(item.state is ItemState.COMPLETE for item in items) else 1


def _print_summary(items: list[Item], interrupted: bool) -> None:
    from pirun.progress import items_table, plain_items, summary_counts

    if interrupted:
        render.stdout.print(
            "Interrupted: nothing new was started; running sessions are left alive."
        )
    if render.stdout.is_terminal:
        render.stdout.print(items_table(items, render.stdout.width))
    else:
        for line in plain_items(items):
            render.stdout.print(line, markup=False)
    counts = summary_counts(items)
    render.stdout.print(
        f"Summary: {counts['complete']} complete, {counts['error']} failed, "
        f"{counts['skipped']} skipped, {counts['running']} still running, "
        f"{counts['pending']} not started"
    )


def execute_batch(rt: Runtime, keys: list[str], options: BatchOptions, *,
                  dry_run: bool, json_output: bool, selected: list[str] | None = None) -> int:
    from pirun.batch import finish_batch, make_plan, make_scheduler, mark_changes, run_batch
    from pirun.progress import summary_counts

    batch = make_plan(rt, keys)
    plan_json = [[json_key(key) for key in layer] for layer in batch.plan.layers]
    extra = {} if selected is None else {"selected": [json_key(key) for key in selected]}
    if dry_run:
        if json_output:
            print_json({"layers": plan_json, "dry_run": True, **extra})
        else:
            for line in batch.layer_lines():
                render.stdout.print(line)
        return 0
    if not STATE.quiet and not json_output:
        for line in batch.layer_lines():
            render.stdout.print(line)
    scheduler = make_scheduler(rt, batch, options)
    progress = _progress(rt, lambda: list(scheduler.items.values()), json_output)
    scheduler.observer = progress
    with progress:
        items, interrupted = run_batch(rt, scheduler)
    mark_changes(rt, items)
    if json_output:
        print_json({
            "layers": plan_json,
            **extra,
            "results": [item.to_dict() for item in items],
            "summary": summary_counts(items),
            "interrupted": interrupted,
        })
    else:
        _print_summary(items, interrupted)
    finish_batch(rt, items)
    return _batch_exit(items, interrupted)


@app.command()
def batch(
    issues: Annotated[list[str] | None, typer.Argument(help="Issue keys.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only.")] = False,
    sequential: Annotated[
        bool, typer.Option("--sequential", help="One issue at a time.")
    ] = False,
    continue_on_error: Annotated[
        bool, typer.Option("--continue-on-error", help="Keep starting issues after a failure.")
    ] = False,
    strict_layers: Annotated[
        bool, typer.Option("--strict-layers", help="Start a layer only when the last is done.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds before an issue fails.")] = 3600,
    interval: Annotated[
        float, typer.Option(help="Polling fallback interval in seconds.")
    ] = 5,
    base: Annotated[str | None, typer.Option(help="Branch to start from.")] = None,
    workflow: Annotated[str | None, typer.Option(help="Prompt workflow name.")] = None,
    ignore_blockers: Annotated[
        bool, typer.Option("--ignore-blockers", help="Ignore open blockers outside the batch.")
    ] = False,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", help="Add the open issues with this label (repeatable)."),
    ] = None,
    milestone: Annotated[
        str | None, typer.Option(help="Add the open issues of this milestone.")
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(help="Add the issues this query finds (the tracker's own syntax)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Add at most this many selected issues.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run many issues in dependency order, in parallel within the limit: the keys
    given, and those --label, --milestone and --query select."""
    from pirun.model import Selection
    from pirun.scheduler import BatchOptions

    selection = Selection(query or "", tuple(label or ()), milestone, limit)
    selecting = bool(selection.describe())
    if not issues and not selecting:
        raise UsageError("no issues given (keys, or --label, --milestone, --query)")
    if timeout <= 0 or interval <= 0:
        raise UsageError("--timeout and --interval must be positive")
    if limit is not None and (limit <= 0 or not selecting):
        raise UsageError("--limit takes a positive number and goes with a selection")
    rt = STATE.runtime()
    keys = _issue_keys(rt, issues or [])
    selected: list[str] | None = None
    if selecting:
        from pirun.selection import select_keys

        selected = select_keys(rt, selection)
        if not selected and not keys:
            raise PirunError(f"no issue matches {selection.describe()}")
        if not json_output and not STATE.quiet:
            shown = ", ".join(display_key(key) for key in selected) or "none"
            render.stdout.print(
                f"Selected {len(selected)} by {selection.describe()}: {shown}", markup=False
            )
        keys = list(dict.fromkeys([*keys, *selected]))
    options = BatchOptions(
        max_concurrent=1 if sequential else rt.config.max_concurrent,
        strict_layers=strict_layers,
        continue_on_error=continue_on_error,
        timeout=timeout,
        interval=interval,
        ignore_blockers=ignore_blockers,
        base=base,
        workflow=workflow,
    )
    code = execute_batch(rt, keys, options, dry_run=dry_run, json_output=json_output,
                         selected=selected)
    raise typer.Exit(code)


@app.command()
def graph(
    issues: Annotated[list[str] | None, typer.Argument(help="Issue keys.")] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="mermaid (default) or dot (Graphviz).")
    ] = "mermaid",
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the issues' dependency graph (blocker -> dependent), coloured by state."""
    from pirun.batch import make_plan
    from pirun.picture import FORMATS, picture, record_state
    from pirun.sessions import reconcile

    # Checked before the repository is read: a typo is an error even outside one.
    if output_format not in FORMATS:
        raise UsageError(f"--format takes {' or '.join(FORMATS)}, got '{output_format}'")
    if not issues:
        raise UsageError("no issues given")
    rt = STATE.runtime()
    reconcile(rt)  # a vanished session is shown as the error it is, as `status` does
    plan = make_plan(rt, _issue_keys(rt, issues))
    states = {
        key: record_state(record)
        for key in plan.plan.order() if (record := rt.store.get(key)) is not None
    }
    pic = picture(plan.plan, plan.issues, plan.outside, states)
    if json_output:
        print_json(pic.to_dict())
        return
    sys.stdout.write(FORMATS[output_format](pic))


@app.command()
def restack(
    issues: Annotated[
        list[str] | None, typer.Argument(help="Issue keys (default: every stacked branch).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would move.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Merge blockers' new commits (or the base, once they landed there) into the
    branches stacked on them; never rewrites a commit."""
    from pirun.restack import restack as restack_branches

    rt = STATE.runtime()
    results = restack_branches(rt, _issue_keys(rt, issues or []), dry_run)
    if json_output:
        print_json([result.to_dict() for result in results])
    elif not results:
        render.stdout.print("No stacked branches.")
    for result in [] if json_output else results:
        render.stdout.print(result.line(), markup=False, highlight=False)
    if any(result.refused for result in results):
        raise typer.Exit(1)


@app.command()
def wait(
    issues: Annotated[list[str] | None, typer.Argument(help="Issue keys.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds.")] = None,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first failure.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Polling fallback interval.")] = 5,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Wait for issues' sessions to finish; exit 0 all complete, 1 any failed, 2 timed out."""
    from pirun.model import Status
    from pirun.waiting import WaitResult, wait_for

    if not issues:
        raise UsageError("no issues given")
    if (timeout is not None and timeout <= 0) or interval <= 0:
        raise UsageError("--timeout and --interval must be positive")
    rt = STATE.runtime()
    keys = _issue_keys(rt, issues)
    show = not (STATE.quiet or json_output)

    def on_finish(key: str, status: Status, message: str) -> None:
        if show:
            outcome = "success" if status is Status.COMPLETE else f"error: {message}"
            render.stdout.print(f"Session {rt.config.session_name(key)} completed ({outcome})")

    try:
        if show:
            render.stdout.print(f"Waiting for {len(keys)} sessions to complete...")
        result = wait_for(
            rt, keys, timeout=timeout, fail_fast=fail_fast, interval=interval,
            on_finish=on_finish,
        )
    except KeyboardInterrupt:
        # Ctrl-C before wait_for took over (it reports its own partial result).
        result = WaitResult(pending=list(keys), interrupted=True)
    if json_output:
        print_json({
            "completed": [json_key(key) for key in result.completed],
            "failed": result.failed,
            "pending": [json_key(key) for key in result.pending],
            "timed_out": result.timed_out,
            "interrupted": result.interrupted,
        })
    else:
        if result.interrupted:
            render.stdout.print("Interrupted: the sessions are left running.")
        render.stdout.print("Summary:")
        render.stdout.print(f"  Completed: {len(result.completed)}")
        render.stdout.print(f"  Failed: {len(result.failed)}")
        if result.pending:
            render.stdout.print(f"  Still running: {len(result.pending)}")
    if result.interrupted:
        raise typer.Exit(130)
    if result.failed:
        raise typer.Exit(1)
    if result.timed_out:
        raise typer.Exit(2)


@app.command()
def demo(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to create the demo repository.")
    ] = None,
    delay: Annotated[float, typer.Option(help="Seconds the demo agent 'works'.")] = 1.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run a real batch offline: a throwaway repo, local issues, the scripted demo agent."""
    from pirun.demo import DEMO_KEYS, create_demo_repo, demo_ran_as_planned
    from pirun.runtime import Runtime
    from pirun.scheduler import BatchOptions

    if directory is not None and directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty")
    os.environ["PIRUN_DEMO_DELAY"] = str(delay)
    path = create_demo_repo(directory)
    if not json_output:
        render.stdout.print(f"Demo repository: {path}")
    rt = Runtime.load(path, STATE.disabled)
    options = BatchOptions(max_concurrent=rt.config.max_concurrent, continue_on_error=True,
                           timeout=120, interval=1)
    code = execute_batch(rt, DEMO_KEYS, options, dry_run=False, json_output=json_output)
    if not json_output:
        # Short, so that the summary above stays on a 24-line screen.
        render.stdout.print("Issue #6 fails on purpose; #7, which depends on it, is skipped.")
        render.stdout.print(f"The demo repository is at {path}", markup=False)
        render.stdout.print("Look around there: pirun list, status, logs 1, cleanup --all --force")
    # The failure is part of the show: the demo succeeded if the batch ran as planned.
    raise typer.Exit(0 if code in (0, 1) and demo_ran_as_planned(rt) else 1)


# -- cleanup ------------------------------------------------------------------------------------


@app.command()
def cleanup(
    issues: Annotated[list[str] | None, typer.Argument(help="Issue keys.")] = None,
    all_issues: Annotated[bool, typer.Option("--all", help="Every issue.")] = False,
    completed: Annotated[
        bool, typer.Option("--completed", help="With --all: only complete issues.")
    ] = False,
    orphaned: Annotated[
        bool, typer.Option("--orphaned", help="Leftovers: sessions, worktrees or records alone.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, remove nothing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Also drop uncommitted work and unmerged branches.")
    ] = False,
    keep_branch: Annotated[
        bool, typer.Option("--keep-branch", help="Keep the issue branches.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Remove sessions, worktrees, branches and status records."""
    from pirun.cleanup import CleanupOptions, cleanup_targets, run_cleanup
    from pirun.sessions import reconcile

    if not (issues or all_issues or orphaned):
        raise UsageError("give issue keys, --all or --orphaned")
    if completed and not all_issues:
        raise UsageError("--completed goes with --all")
    rt = STATE.runtime()
    reconcile(rt)
    targets = cleanup_targets(
        rt, _issue_keys(rt, issues or []), all_issues=all_issues, completed=completed,
        orphaned=orphaned,
    )
    report = run_cleanup(
        rt, targets, CleanupOptions(dry_run=dry_run, force=force, delete_branch=not keep_branch)
    )
    if json_output:
        print_json(report.to_dict())
    else:
        verb = "Would remove" if dry_run else "Removed"
        if not report.removed and not report.refused:
            render.stdout.print("Nothing to clean up.")
        for issue, items in report.removed.items():
            render.stdout.print(f"{verb} for issue {display_key(issue)}: {', '.join(items)}")
        for message in report.refused.values():
            render.stderr.print(f"Refused: {message}")
    if report.refused:
        raise typer.Exit(1)


# -- plugins and init -----------------------------------------------------------------------------


@app.command()
def plugins(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List loaded plugins and their hooks, and the backends, trackers and status
    stores they register (the configured one marked with *)."""
    from pirun.plugin import describe_plugins
    from pirun.registry import Registry

    rt = STATE.runtime()
    infos = describe_plugins(rt.pm)
    components: dict[str, tuple[Registry[Any], str]] = {
        "backends": (rt.backends, rt.config.backend),
        "trackers": (rt.trackers, rt.config.tracker),
        "stores": (rt.stores, rt.config.get("store")),
    }
    if json_output:
        print_json({
            "plugins": [{"name": i.name, "source": i.source, "hooks": list(i.hooks)}
                        for i in infos],
            **{
                kind: [{"name": entry.name, "plugin": entry.plugin, "selected": name == chosen}
                       for name, entry in sorted(registry.entries.items())]
                for kind, (registry, chosen) in components.items()
            },
        })
        return
    for info in infos:
        render.stdout.print(f"{info.name}  [dim]{info.source}[/dim]")
        for hook in info.hooks:
            render.stdout.print(f"    {hook}")
    for kind, (registry, chosen) in components.items():
        names = [f"{name}*" if name == chosen else name for name in registry.names()]
        render.stdout.print(f"{kind.capitalize()}: {', '.join(names) or 'none'}", markup=False)


@app.command()
def init(
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented `.pirun.yaml` with every key and its default."""
    from pirun.config import KERNEL_OPTIONS, find_repo_root, merge_schemas
    from pirun.init import render_config

    root = find_repo_root(STATE.directory)
    target = root / ".pirun.yaml"
    if target.exists() and not force:
        raise PirunError(f"{target} already exists (use --force to overwrite it)")
    schema = KERNEL_OPTIONS
    try:
        rt = STATE.runtime()
        schema = merge_schemas(KERNEL_OPTIONS, *[o for o in rt.pm.hook.pirun_config_options() if o])
    except PirunError:
        pass
    target.write_text(render_config(schema), encoding="utf-8")
    render.stdout.print(f"Wrote {target}")


# -- entry point -------------------------------------------------------------------------

#: Options of the whole program that people type after the subcommand too, as the
#: seed's scripts allowed (`pirun batch 1 2 --dry-run -v`).
ANYWHERE_FLAGS = ("-q", "--quiet", "--log-json", "--verbose")


def _is_anywhere_flag(arg: str) -> bool:
    return arg in ANYWHERE_FLAGS or (len(arg) > 1 and arg.startswith("-") and set(arg[1:]) == {"v"})


def hoist_global_flags(argv: list[str]) -> list[str]:
    """`argv` with `-v`, `-q` and `--log-json` moved before the subcommand, wherever
    they were typed (up to a `--`, after which everything is an argument)."""
    try:
        end = argv.index("--")
    except ValueError:
        end = len(argv)
    flags = [arg for arg in argv[:end] if _is_anywhere_flag(arg)]
    rest = [arg for arg in argv[:end] if not _is_anywhere_flag(arg)]
    return flags + rest + argv[end:]


def _prescan(argv: list[str]) -> bool:
    """Read the options that decide which plugins load, before typer parses anything,
    so that plugins can add commands (`pirun_register_commands`). True when only the
    version is asked for, which needs no plugins."""
    args = iter(argv)
    for arg in args:
        if arg == "--version":
            return True
        if arg in ("-C", "--directory"):
            STATE.directory = Path(next(args, "."))
        elif arg.startswith("--directory="):
            STATE.directory = Path(arg.split("=", 1)[1])
        elif arg == "-p":
            value = next(args, "")
            if value.startswith("no:"):
                STATE.disabled.append(value[3:])
        elif arg.startswith("-pno:"):
            STATE.disabled.append(arg[5:])
        elif arg == "--repo":
            STATE.repo = next(args, None)
        elif not arg.startswith("-"):
            break
    return False


def _register_plugin_commands() -> None:
    """Let plugins add their commands. Without a usable configuration (not in a
    repository, a broken `.pirun.yaml`) the installed plugins still add theirs, so
    that running one reports the configuration's problem, not `No such command`."""
    from pirun.plugin import installed_plugins

    try:
        rt = STATE.runtime()
    except PirunError as exc:
        STATE.runtime_error = exc
        # An installed plugin that cannot be imported breaks this too: then only the
        # kernel's commands exist, and each one reports the error.
        with contextlib.suppress(PirunError):
            installed_plugins(STATE.disabled).hook.pirun_register_commands(app=app)
        return
    rt.pm.hook.pirun_register_commands(app=app)


def main(argv: list[str] | None = None) -> int:
    args = hoist_global_flags(sys.argv[1:] if argv is None else argv)
    if _prescan(args):
        print(f"pirun {__version__}")
        return 0
    _register_plugin_commands()
    command = typer.main.get_command(app)
    if not args:
        args = ["--help"]
    try:
        result = command.main(args, prog_name="pirun", standalone_mode=False)
    except typer.Abort:
        render.stderr.print("Interrupted.", markup=False)
        return 130
    except typer.TyperException as exc:
        # The command line itself is wrong (typer's parser: unknown option, ...).
        message = exc.format_message()
        if STATE.runtime_error is not None and "No such command" in message:
            message = str(STATE.runtime_error)
        render.stderr.print(f"Error: {message}", markup=False)
        return UsageError.exit_code
    except PirunError as exc:
        render.stderr.print(f"Error: {exc}", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        render.stderr.print("Interrupted.", markup=False)
        return 130
    return result if isinstance(result, int) else 0


__all__ = ["app", "main"]
