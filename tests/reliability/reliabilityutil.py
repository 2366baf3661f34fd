"""Helpers for the reliability suite: a step-scripted agent, background `pirun`
processes, polling with deadlines, and reading a process's CPU time from /proc.

(A module of its own, with a name no other test directory uses: the test
directories are not packages, so helper module names are global.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import end_all
from helpers import tmux_sessions as tmux_sessions  # the tests import it from here
from helpers import wait_until as wait_for  # noqa: F401  (the tests import it from here)

from pirun import procfs

SESSION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")

#: The agent. argv: CONFIG_JSON ISSUE PROMPT_FILE. CONFIG_JSON holds the events file
#: and, per issue (or "default"), a list of steps run in order:
#:   ["note", KIND]        append `KIND ISSUE TIME PID PPID` to the events file (one
#:                         O_APPEND write, so concurrent agents never interleave)
#:   ["print", TEXT]       print TEXT + newline ({n} is the issue number)
#:   ["write", TEXT]       write TEXT, no newline, unbuffered
#:   ["flood", MB]         write MB megabytes: 80-column lines, then half as one line
#:   ["junk", KB]          write KB kilobytes of random bytes (binary, invalid UTF-8)
#:   ["sleep", SECONDS]    sleep
#:   ["wait", PATH]        wait until PATH exists (at most 120 s)
#:   ["touch", PATH]       create PATH
#:   ["commit", NAME]      write NAME in the worktree and commit it
#:   ["dirty", NAME]       write NAME in the worktree, uncommitted
#:   ["echo_prompt"]       print the whole prompt file
#:   ["probe", NAME]       copy this issue's status record to OUT/NAME-ISSUE.json
#:   ["exit", CODE]        exit with CODE;  ["kill"] SIGKILL itself
#:   ["forever"]           sleep until killed
AGENT_SOURCE = r'''
import json, os, random, signal, subprocess, sys, time
from pathlib import Path

config_path, issue, prompt_file = sys.argv[1:4]
n = int(issue)
config = json.loads(Path(config_path).read_text())
steps = config["issues"].get(issue, config["default"])
events, out = config["events"], Path(config["out"])


def write(data):
    view = memoryview(data)
    while view:
        try:
            done = os.write(1, view)
        except InterruptedError:
            continue
        view = view[done:]


def note(kind):
    line = f"{kind} {n} {time.time():.6f} {os.getpid()} {os.getppid()}\n".encode()
    fd = os.open(events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def git(*args):
    subprocess.run(["git", *args], check=True, capture_output=True)


for step in steps:
    op, args = step[0], step[1:]
    if op == "note":
        note(args[0])
    elif op == "print":
        write((args[0].replace("{n}", issue) + "\n").encode())
    elif op == "write":
        write(args[0].replace("{n}", issue).encode())
    elif op == "flood":
        total = int(args[0] * 1024 * 1024)
        lines = (b"flood " + b"x" * 73 + b"\n") * 8192
        sent = 0
        while sent < total // 2:
            write(lines)
            sent += len(lines)
        chunk = b"y" * 65536
        while sent < total:
            write(chunk)
            sent += len(chunk)
        write(b"\n")
    elif op == "junk":
        rng = random.Random(n)
        write(bytes(rng.getrandbits(8) for _ in range(int(args[0]) * 1024)))
        write(b"\xff\xfe\xc3\x28\xe2\x82\xed\xa0\x80\xf0\x9f\n")
    elif op == "sleep":
        time.sleep(args[0])
    elif op == "wait":
        deadline = time.monotonic() + 120
        while not os.path.exists(args[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
    elif op == "touch":
        Path(args[0]).touch()
    elif op == "commit":
        Path(args[0]).write_text(f"work of issue {n}\n")
        git("add", args[0])
        git("commit", "-q", "-m", f"work for #{n}")
    elif op == "dirty":
        Path(args[0]).write_text(f"uncommitted work of issue {n}\n")
    elif op == "echo_prompt":
        write(Path(prompt_file).read_bytes() + b"\n")
    elif op == "probe":
        record = Path(os.environ["PIRUN_REPO"]) / ".worktrees" / ".status" / f"{n}.json"
        target = out / f"{args[0]}-{n}.json"
        target.write_text(record.read_text() if record.exists() else "null")
    elif op == "exit":
        sys.exit(args[0])
    elif op == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif op == "forever":
        while True:
            time.sleep(3600)
    else:
        raise SystemExit(f"unknown step {step!r}")
'''

DONE = [["note", "start"], ["note", "end"], ["print", "###TASK_COMPLETE_{n}###"]]


@dataclass(frozen=True)
class Event:
    kind: str
    issue: int
    time: float
    pid: int
    ppid: int


@dataclass
class Agent:
    """The step-scripted agent for `agent.command`, and what its runs noted."""

    directory: Path
    default: list[list[Any]] = field(default_factory=lambda: [list(s) for s in DONE])
    issues: dict[str, list[list[Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.out = self.directory / "out"
        self.out.mkdir(exist_ok=True)
        self.script = self.directory / "agent.py"
        self.script.write_text(AGENT_SOURCE, encoding="utf-8")
        self.config = self.directory / "agent.json"
        self.events_file = self.directory / "events.log"
        self.save()

    def set(self, issue: int, *steps: list[Any]) -> Agent:
        self.issues[str(issue)] = [list(step) for step in steps]
        return self.save()

    def save(self) -> Agent:
        self.config.write_text(json.dumps({
            "events": str(self.events_file), "out": str(self.out),
            "default": self.default, "issues": self.issues,
        }), encoding="utf-8")
        return self

    def command(self) -> list[str]:
        return [sys.executable, str(self.script), str(self.config), "{issue}", "{prompt_file}"]

    def events(self, kind: str | None = None, issue: int | None = None) -> list[Event]:
        if not self.events_file.exists():
            return []
        found = []
        for line in self.events_file.read_text().splitlines():
            k, i, t, pid, ppid = line.split()
            event = Event(k, int(i), float(t), int(pid), int(ppid))
            if (kind is None or event.kind == kind) and (issue is None or event.issue == issue):
                found.append(event)
        return found

    def starts(self, issue: int) -> list[float]:
        return [e.time for e in self.events("start", issue)]

    def kill_all(self) -> None:
        """Safety net: SIGKILL every agent this test started that still runs."""
        for event in self.events("start"):
            try:
                cmdline = Path(f"/proc/{event.pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(self.script).encode() in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(event.pid, signal.SIGKILL)


@dataclass
class Procs:
    """`pirun` commands started with Popen in the repo; killed at teardown if still running."""

    cwd: Path
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self, *args: str, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pirun", *args],
            cwd=cwd or self.cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        end_all(self.procs)


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process (its own threads, not its children), from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuSampler:
    """The last CPU time seen for a process, sampled until it exits."""

    pid: int
    last: float = 0.0

    def sample(self) -> float:
        value = cpu_seconds(self.pid)
        if value is not None:
            self.last = value
        return self.last


def alive(pid: int) -> bool:
    """True while the process runs (a zombie has ended)."""
    stat = procfs.read_stat(pid)
    return stat is not None and not stat.dead


def list_sessions(pirun: Callable[..., Any]) -> list[str]:
    result = pirun("list", "--json")
    assert result.exit_code == 0, result.stderr
    return sorted(row["session"] for row in json.loads(result.stdout))


def results(stdout: str) -> dict[int, dict[str, Any]]:
    return {item["issue"]: item for item in json.loads(stdout)["results"]}


def records(repo: Any) -> dict[int, dict[str, Any]]:
    """Every status record, each parsed as JSON (a torn file fails here)."""
    status_dir = repo.path / ".worktrees" / ".status"
    return {int(p.stem): json.loads(p.read_text()) for p in status_dir.glob("*.json")}


def branches(repo: Any) -> list[str]:
    out = repo.git("for-each-ref", "--format=%(refname:short)", "refs/heads")
    return sorted(line for line in out.splitlines() if line != "main")


def git_worktrees(repo: Any) -> list[Path]:
    out = repo.git("worktree", "list", "--porcelain", "-z")
    return [Path(f.removeprefix("worktree ")) for f in out.split("\0") if f.startswith("worktree ")]


def assert_one_line_error(result: Any, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def configure(repo: Any, backend: dict[str, Any], agent: Agent, **extra: Any) -> None:
    repo.write_config(tracker="local", agent={"command": agent.command()}, **backend, **extra)


def figure(name: str, value: Any) -> None:
    """Record a measured figure for docs/reliability.md: one JSON line appended to the
    file named by $PIRUN_RELIABILITY_FIGURES, when it is set (never asserted on)."""
    target = os.environ.get("PIRUN_RELIABILITY_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"name": name, "value": value}) + "\n")
