"""Helpers for the batch tests: a scriptable agent, deadline polling, background CLIs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import end_all
from helpers import wait_until as wait_until  # the tests import it from here

#: The scripted agent. argv: BEHAVIOURS_JSON ISSUE PROMPT_FILE. It appends
#: `start|end ISSUE TIME PID` lines to the events file (one small O_APPEND write each,
#: so concurrent agents never interleave), then does what the behaviour says:
#:   sleep: seconds before finishing       until: a path to wait for
#:   until_event: wait for this text in the events file ("end 3")
#:   forever: never finish                 action: complete | error | exit
#:   code: exit code                       message: text after the error marker
#:   report: write ISSUE.seen.json (files in the working directory, the prompt)
AGENT_SOURCE = r'''
import json, os, sys, time
from pathlib import Path

behaviours_path, issue = sys.argv[1], sys.argv[2]
config = json.loads(Path(behaviours_path).read_text())
b = config["issues"].get(issue, config.get("default", {}))
events = config["events"]

def note(kind):
    line = f"{kind} {issue} {time.time():.6f} {os.getpid()}\n".encode()
    fd = os.open(events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)

note("start")
print(f"scripted agent working on #{issue}", flush=True)
if b.get("report"):
    # What the agent was given: its working directory's files and the prompt.
    seen = {"files": sorted(os.listdir(".")), "prompt": Path(sys.argv[3]).read_text()}
    Path(events).with_name(f"{issue}.seen.json").write_text(json.dumps(seen))
deadline = time.monotonic() + 60
if b.get("forever"):
    while True:
        time.sleep(1)
if b.get("until"):
    while not os.path.exists(b["until"]) and time.monotonic() < deadline:
        time.sleep(0.02)
if b.get("until_event"):
    while time.monotonic() < deadline:
        with open(events) as handle:
            if b["until_event"] in handle.read():
                break
        time.sleep(0.02)
time.sleep(b.get("sleep", 0))
note("end")
action = b.get("action", "complete")
if action == "complete":
    print(f"###TASK_COMPLETE_{issue}###", flush=True)
elif action == "error":
    print(f"###TASK_ERROR_{issue}### {b.get('message', 'scripted failure')}", flush=True)
sys.exit(b.get("code", 0))
'''


@dataclass(frozen=True)
class Event:
    kind: str
    issue: int
    time: float
    pid: int


@dataclass
class ScriptAgent:
    """Per-issue scripted behaviour for `agent.command`, and the events it logged."""

    directory: Path
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    default: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.script = self.directory / "agent.py"
        self.script.write_text(AGENT_SOURCE, encoding="utf-8")
        self.behaviours = self.directory / "behaviours.json"
        self.events_file = self.directory / "events.log"
        self.save()

    def set(self, issue: int, **behaviour: Any) -> ScriptAgent:
        self.issues[str(issue)] = behaviour
        return self.save()

    def save(self) -> ScriptAgent:
        self.behaviours.write_text(
            json.dumps(
                {"issues": self.issues, "default": self.default, "events": str(self.events_file)}
            ),
            encoding="utf-8",
        )
        return self

    def command(self) -> list[str]:
        return [sys.executable, str(self.script), str(self.behaviours), "{issue}",
                "{prompt_file}"]

    def events(self) -> list[Event]:
        if not self.events_file.exists():
            return []
        found = []
        for line in self.events_file.read_text().splitlines():
            kind, issue, stamp, pid = line.split()
            found.append(Event(kind, int(issue), float(stamp), int(pid)))
        return found

    def starts(self, issue: int) -> list[float]:
        return [e.time for e in self.events() if e.kind == "start" and e.issue == issue]

    def ends(self, issue: int) -> list[float]:
        return [e.time for e in self.events() if e.kind == "end" and e.issue == issue]

    def seen(self, issue: int) -> dict[str, Any]:
        """What a `report` agent found: files in its working directory, its prompt."""
        return json.loads((self.directory / f"{issue}.seen.json").read_text())

    def started(self, issue: int) -> bool:
        return bool(self.starts(issue))

    def max_overlap(self) -> int:
        """The most agents that were between `start` and `end` at the same moment."""
        # An end and a start at the very same stamp: the end (-1) sorts first.
        points = sorted((e.time, 1 if e.kind == "start" else -1) for e in self.events())
        running = peak = 0
        for _, delta in points:
            running += delta
            peak = max(peak, running)
        return peak


def configure(repo: Any, backend_config: dict[str, Any], agent: ScriptAgent,
              max_concurrent: int = 0, **extra: Any) -> None:
    repo.write_config(
        tracker="local",
        agent={"command": agent.command()},
        parallel={"max_concurrent": max_concurrent},
        **backend_config,
        **extra,
    )


def add_issues(repo: Any, graph: dict[int, list[int]]) -> None:
    """`graph[n]` lists the blockers of issue n; every issue is open."""
    for number, blockers in graph.items():
        repo.add_issue(number, f"Issue {number}", body=f"Work on {number}.",
                       blocked_by=blockers)


SEED = {42: [], 43: [], 44: [42], 45: [43], 46: [44]}


@dataclass
class Running:
    """A `pirun` command running in the background; its output goes to files, so it
    can be read while the command runs."""

    proc: subprocess.Popen[bytes]
    out_path: Path
    err_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.proc.poll() is None

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """Wait for the exit; (exit code, stdout, stderr)."""
        code = self.proc.wait(timeout=timeout)
        return code, self.stdout(), self.stderr()


@dataclass
class Background:
    """`pirun` commands started with Popen; whatever is still running at teardown is killed."""

    cwd: Path
    logs: Path
    procs: list[Running] = field(default_factory=list)

    def start(self, *args: str, env: dict[str, str] | None = None,
              new_group: bool = False) -> Running:
        """`new_group`: lead a process group of its own, like a command a shell runs
        in the foreground, so that `os.killpg` can play a terminal's Ctrl-C."""
        self.logs.mkdir(parents=True, exist_ok=True)
        n = len(self.procs)
        out_path, err_path = self.logs / f"{n}.out", self.logs / f"{n}.err"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pirun", *args],
                cwd=self.cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                process_group=0 if new_group else None,
            )
        running = Running(proc, out_path, err_path)
        self.procs.append(running)
        return running

    def close(self) -> None:
        end_all((running.proc for running in self.procs), timeout=30)
