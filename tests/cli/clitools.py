"""Helpers for the end-to-end CLI tests: a scripted agent, polling with deadlines,
error-shape checks. (A module of its own: `conftest` is taken by the root one.)"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import DEADLINE
from helpers import tmux_sessions as tmux_sessions  # the tests import it from here
from helpers import wait_until as wait_for

from pirun import procfs

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)")
DEMO_ENV = {"PIRUN_DEMO_DELAY": "0.2"}

#: An issue as the tests name it: a number, or a name key such as "PROJ-1" (the
#: local tracker's file `.pirun/issues/PROJ-1.md`). Either is used as is in file
#: and session names: numbers and such names are their own safe names.
Key = int | str


def shown(issue: Key) -> str:
    """An issue as pirun shows it: `#42` for a number, the key otherwise."""
    return f"#{issue}" if str(issue).isdigit() else str(issue)

# The agent every test drives: `agent.py MODE ISSUE PROMPT_FILE [EXTRA...]`. OUT is
# filled in when the script is written, so the agent reports to the test's tmp dir.
AGENT_SOURCE = r'''
import json, os, subprocess, sys, time

OUT = __OUT__
mode, issue, prompt_file, *extra = sys.argv[1:]
# The issue key as pirun passes it: "42", or a name such as "PROJ-7".
n = issue
# Another issue's key, for the markers that must not count.
other = str(int(n) + 1) if n.isdigit() else f"{n}-2"
if mode == "auto":
    # The issue body picks the behaviour: a line `agent-mode: NAME`.
    for line in open(prompt_file, encoding="utf-8"):
        if line.startswith("agent-mode:"):
            mode = line.split(":", 1)[1].strip()
            break
os.makedirs(os.path.join(OUT, "pids"), exist_ok=True)
open(os.path.join(OUT, "pids", str(os.getpid())), "w").write(__file__)
with open(os.path.join(OUT, f"agent-{n}.pids"), "a") as handle:
    handle.write(f"{os.getpid()} {os.getppid()}\n")


def out(text, end="\n"):
    sys.stdout.write(text + end)
    sys.stdout.flush()


def forever():
    while True:
        time.sleep(3600)


def gate(name):
    path = os.path.join(OUT, f"{name}-{n}")
    while not os.path.exists(path):
        time.sleep(0.02)


def signal_pirun(*args):
    subprocess.run([sys.executable, "-m", "pirun", "signal", *args], check=False)


if mode == "marker":
    out("working on it")
    out(f"###TASK_COMPLETE_{n}###")
    forever()
elif mode == "error-marker":
    out(f"###TASK_ERROR_{n}### could not build: missing dependency")
    forever()
elif mode == "exit0":
    out("all done, no marker")
elif mode == "exit3":
    out("failing")
    sys.exit(3)
elif mode == "sleep":
    out("sleeping")
    forever()
elif mode == "gate":
    report = {"argv": sys.argv, "cwd": os.getcwd(),
              "env": {k: v for k, v in os.environ.items() if k.startswith("PIRUN_")}}
    with open(os.path.join(OUT, f"report-{n}.tmp"), "w") as handle:
        json.dump(report, handle)
    os.replace(os.path.join(OUT, f"report-{n}.tmp"), os.path.join(OUT, f"report-{n}.json"))
    out("line one")
    gate("go")
    out("line two")
    out("done")
elif mode == "other-marker":
    out(f"###TASK_COMPLETE_{other}###")
    out(f"###TASK_COMPLETE_{n}0###")
    out(f"###TASK_ERROR_{n}1### not mine")
    sys.exit(5)
elif mode == "ansi-split":
    # Split across writes, with colours, a cursor move, a title and a progress
    # line rewritten with carriage returns in between.
    parts = ["progress 10%\r\x1b[2K\x1b[1Gprogress 90%\r###TASK_", "\x1b[1mCOMP",
             "\x1b[0mLETE_", str(n), "\x1b]0;a title\x07", "###\r\n"]
    for part in parts:
        out(part, end="")
        time.sleep(0.02)
    forever()
elif mode == "decoys-then-error":
    # The prompt echoed (markers of its own on lines of their own), a marker inside
    # a fence, another issue's marker; then the one real marker, which must win.
    out(open(prompt_file, encoding="utf-8").read())
    out("Here is the marker you asked about:")
    out("```")
    out(f"###TASK_COMPLETE_{n}###")
    out("```")
    out(f"###TASK_COMPLETE_{other}###")
    out(f"###TASK_ERROR_{n}### after the decoys")
    forever()
elif mode == "echo":
    out(open(prompt_file, encoding="utf-8").read())
    out("ECHO-DONE")
    forever()
elif mode == "signal-complete":
    signal_pirun("complete")
    forever()
elif mode == "signal-error":
    signal_pirun("error", "tests", "failed")
    forever()
elif mode == "color":
    out("\x1b[31mred text\x1b[0m")
    out("\x1b]0;window title\x07plain \x1b[1mbold\x1b[0m text")
elif mode == "dirty":
    open("work.txt", "w").write("uncommitted work\n")
elif mode == "commit":
    open("work.txt", "w").write("committed work\n")
    subprocess.run(["git", "add", "work.txt"], check=True)
    subprocess.run(["git", "commit", "-q", "-m", "work"], check=True)
elif mode == "stale":
    open("stale.txt", "w").write("from the first run\n")
    forever()
else:
    out(f"unknown mode {mode}")
    sys.exit(99)
'''


@dataclass
class Agent:
    """The scripted agent written into a test's tmp dir."""

    script: Path
    out: Path

    def command(self, mode: str, *extra: str) -> list[str]:
        return [sys.executable, str(self.script), mode, "{issue}", "{prompt_file}", *extra]

    def open_gate(self, issue: Key, name: str = "go") -> None:
        (self.out / f"{name}-{issue}").write_text("")

    def pids(self, issue: Key) -> list[tuple[int, int]]:
        """(agent pid, wrapper pid) of each run of the issue, oldest first."""
        path = self.out / f"agent-{issue}.pids"
        if not path.exists():
            return []
        return [
            (int(a), int(b)) for a, b in (line.split() for line in path.read_text().splitlines())
        ]

    def wait_pids(self, issue: Key, count: int = 1) -> list[tuple[int, int]]:
        return wait_for(lambda: (p := self.pids(issue)) and len(p) >= count and p,
                        what=f"agent of issue {shown(issue)} to start")


def wait_for_status(
    repo: Any, issue: Key, statuses: str | tuple[str, ...], timeout: float = DEADLINE
) -> dict[str, Any]:
    """Poll the status record until its status is one of `statuses`; return it."""
    wanted = (statuses,) if isinstance(statuses, str) else statuses
    last: list[dict[str, Any] | None] = [None]

    def check() -> dict[str, Any] | None:
        try:
            last[0] = repo.status(issue)
        except json.JSONDecodeError as exc:
            # Records are replaced atomically: a reader never sees half of one.
            raise AssertionError(f"torn status record for issue {shown(issue)}: {exc}") from None
        return last[0] if last[0] and last[0]["status"] in wanted else None

    try:
        return wait_for(check, timeout, what=f"issue {shown(issue)} to be {'/'.join(wanted)}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last record: {last[0]}") from None


def wait_for_log(repo: Any, issue: Key, text: str, timeout: float = DEADLINE) -> str:
    path = repo.path / ".worktrees" / ".logs" / f"issue-{issue}.log"

    def check() -> str | None:
        data = path.read_text(errors="replace") if path.exists() else ""
        return data if text in data else None

    return wait_for(check, timeout, what=f"{text!r} in the log of issue {shown(issue)}")


def process_gone(pid: int) -> bool:
    """No process runs on `pid` (a zombie has ended)."""
    stat = procfs.read_stat(pid)
    return stat is None or stat.dead


def assert_error(result: Any, exit_code: int, *fragments: str, one_line: bool = True) -> None:
    """A user-facing error: the exit code, the message on stderr, no traceback."""
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines, "no error message on stderr"
    if one_line:
        assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def sessions(pirun: Callable[..., Any]) -> dict[str, dict[str, Any]]:
    result = pirun("list", "--json")
    assert result.exit_code == 0, result.stderr
    return {row["session"]: row for row in json.loads(result.stdout)}


def branches(repo: Any) -> list[str]:
    out = repo.git("branch", "--list", "--format=%(refname:short)")
    return [line for line in out.splitlines() if line != "main"]


def worktree_dirs(repo: Any) -> list[Path]:
    root = repo.path / ".worktrees"
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if root.is_dir() else []


def session_gone(backend_config: dict[str, Any], issue: Key, wrapper_pid: int) -> bool:
    """Cheaper than `pirun list`: ask tmux, or look whether the wrapper still runs."""
    if backend_config["backend"] == "tmux":
        return f"pi-issue-{issue}" not in tmux_sessions(backend_config["tmux"]["socket_name"])
    return process_gone(wrapper_pid)


def kill_session_externally(backend_config: dict[str, Any], issue: Key, wrapper_pid: int) -> None:
    """End a session behind pirun's back: `tmux kill-session` on the private socket,
    or SIGKILL to the exec wrapper of a process-backend session."""
    if backend_config["backend"] == "tmux":
        socket = backend_config["tmux"]["socket_name"]
        subprocess.run(
            ["tmux", "-L", socket, "kill-session", "-t", f"=pi-issue-{issue}"], check=True,
        )
    else:
        os.kill(wrapper_pid, signal.SIGKILL)
    wait_for(lambda: session_gone(backend_config, issue, wrapper_pid), what="session gone")
