"""Running git for plugins: an argv list (nothing is parsed by a shell), never waiting
on a person (no credential prompt, pager or editor), and every way it can fail as
one error of the caller's type, so each plugin reports git the way it reports the
rest of its work (a worktree's `WorkspaceError`, a tracker's `TrackerError`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pirun.errors import PirunError

#: No terminal prompts, no pager, no editor: pirun runs git non-interactively.
ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "GIT_EDITOR": "true"}


def run(
    cwd: Path,
    *args: str,
    error: type[PirunError] = PirunError,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """`git *args` in `cwd`, its output captured as text.

    Raises `error` when git is not installed, cannot be started in `cwd`, or runs
    longer than `timeout` seconds; with `check`, also when it exits non-zero (quoting
    the last line git wrote). Without `check` the caller reads `returncode` itself.
    """
    what = f"git {args[0]}" if args else "git"
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **ENV},
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise error(f"{what} timed out after {timeout:g}s") from None
    except OSError as exc:
        # The same FileNotFoundError says that git or that `cwd` is missing.
        if isinstance(exc, FileNotFoundError) and exc.filename == "git":
            raise error("git is not installed (not found on PATH)") from None
        where = f": {exc.filename}" if exc.filename else ""
        raise error(f"{what} failed: {exc.strerror or exc}{where}") from None
    if check and proc.returncode != 0:
        raise error(f"{what} failed: {last_line(proc)}")
    return proc


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The last line git wrote (stderr, else stdout), or its exit code."""
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    return lines[-1].strip() if lines else f"exit code {proc.returncode}"
