"""The entrypoint of one pirun agent job on a Ray node: `python job.py job.json`.

Shipped to the node in the job's working_dir together with `job.json` and the
prompt (`prompt.md`); it uses the standard library only, so the node needs git,
Python and the agent, but not pirun. Issue text reaches it only through those files.

1. Clone the remote into a node-local temporary directory and check out the
   issue branch: the remote's copy if an earlier run pushed one, else a new branch
   at the commit the local worktree was created at (else at the base branch).
2. Run the agent on a pty, copying every byte to stdout, which is the Ray job's
   log. The submitting machine's paths in its argv and prompt (`{repo}`,
   `{worktree}`, `{prompt_file}`, a template's `$worktree`) become the clone's and
   the prompt copy's.
3. If the agent exits 0 or printed its completion marker, push the branch to the
   remote; `[pirun-ray] pushed BRANCH SHA` tells the proxy so.
4. Exit with the agent's exit code (1 if the push failed). Problems of the job
   itself are reported as `[pirun-ray] error: REASON` lines.

If the Ray worker that started this script dies (its node is lost), the script
stops the agent and exits without pushing: a job Ray has given up on must not
publish anything.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PREFIX = "[pirun-ray]"
PROMPT_NAME = ".pirun-prompt.md"
READ_SIZE = 65536
#: Seconds between SIGTERM and SIGKILL when the agent has to be stopped.
KILL_GRACE = 5.0
GIT_TIMEOUT = 600
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0e-\x1f]"
)
# What may stand before a marker on its line (the same rule as pirun's detector).
_LEAD = r"^[\s\u2500-\u257f\u25a0-\u25ff\u2022\u2023\u2043\u23fa>*+|:-]*"
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "GIT_EDITOR": "true"}


class JobError(Exception):
    pass


def emit(text: str) -> None:
    os.write(1, text.encode("utf-8", "replace"))


def say(text: str) -> None:
    emit(f"{PREFIX} {text}\n")


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
            env={**os.environ, **_GIT_ENV}, timeout=GIT_TIMEOUT,
        )
    except FileNotFoundError:
        raise JobError("git is not installed on this node") from None
    except subprocess.TimeoutExpired:
        raise JobError(f"git {args[0]} timed out") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise JobError(f"git {args[0]} failed: {detail[-1] if detail else proc.returncode}")
    return proc


def has_commit(clone: Path, ref: str) -> bool:
    return git(clone, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}",
               check=False).returncode == 0


def prepare(spec: dict, clone: Path) -> str:
    """Clone and check out the issue branch; returns what it started from."""
    git(clone.parent, "clone", "--quiet", "--no-tags", "--", spec["remote"], str(clone))
    branch = spec["branch"]
    candidates = [
        (f"refs/remotes/origin/{branch}", f"origin/{branch} (an earlier run)"),
        (spec.get("base_commit") or "", "the local worktree's commit"),
    ]
    if spec.get("base_branch"):
        candidates.append((f"refs/remotes/origin/{spec['base_branch']}",
                           f"origin/{spec['base_branch']}"))
    candidates.append(("HEAD", "the remote's default branch"))
    for ref, what in candidates:
        if ref and has_commit(clone, ref):
            git(clone, "checkout", "--quiet", "--no-track", "-B", branch, ref)
            sha = git(clone, "rev-parse", "HEAD").stdout.strip()
            return f"{what}, {sha[:12]}"
    raise JobError("the remote has no commit to start from")


def local_paths(spec: dict, clone: Path, prompt: Path) -> dict[str, str]:
    """The submitting machine's paths that mean something on this node: the prompt
    file, the worktree and the repository (`{prompt_file}`, `{worktree}`, `{repo}`).
    The node's clone is both its worktree and its repository."""
    local = spec["local"]
    swaps = {local.get("prompt_file"): str(prompt), local.get("worktree"): str(clone),
             local.get("repo"): str(clone)}
    return {old: new for old, new in swaps.items() if old}


def to_node(text: str, swaps: dict[str, str]) -> str:
    """`text` with each of the local paths in `swaps` (as a whole path or the start of
    one: `{repo}/tools/x`) replaced by the node's, in one pass, so a replacement is
    never replaced again. The longest path is tried first: the worktree and the
    prompt file lie inside the repository."""
    if not swaps:
        return text
    alternatives = "|".join(re.escape(old) for old in sorted(swaps, key=len, reverse=True))
    # Not inside a longer path or name: `/x/repo` is not part of `/y/x/repo`, `/x/repo2`
    # or `/x/repo.git`, but a sentence may end right after it (`in /x/repo.`).
    pattern = re.compile(rf"(?<![\w.~/-])(?:{alternatives})(?![\w~-]|\.[\w~-])")
    return pattern.sub(lambda match: swaps[match.group(0)], text)


def agent_argv(spec: dict, swaps: dict[str, str]) -> list[str]:
    """The agent argv with the issue's local paths replaced by this node's (see
    `to_node`); the submitting machine's Python becomes the one running this script."""
    python = spec["local"].get("python")
    return [sys.executable if index == 0 and element == python else to_node(element, swaps)
            for index, element in enumerate(spec["argv"])]


class Agent:
    """The agent on a pty: output to stdout, its completion marker watched for."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], issue: str,
                 exit_grace: float) -> None:
        self.argv, self.cwd, self.env = argv, cwd, env
        self.marker = re.compile(_LEAD + re.escape(f"###TASK_COMPLETE_{issue}###"))
        self.exit_grace = exit_grace
        self.completed = False
        self.stopped = False
        self.orphaned = False
        self.pid = 0
        self._partial = ""
        self._kill_at: float | None = None
        self._killed = False
        self._grace_until: float | None = None

    def _start(self) -> int:
        pid, master = pty.fork()
        if pid == 0:
            try:
                os.chdir(self.cwd)
                os.execvpe(self.argv[0], self.argv, self.env)
            except OSError as exc:
                os.write(2, f"{PREFIX} error: cannot start agent {self.argv[0]!r}: "
                            f"{exc.strerror}\n".encode())
            os._exit(127)
        self.pid = pid
        return master

    def stop(self, sig: int = signal.SIGTERM) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)
        if self._kill_at is None or sig == signal.SIGKILL:
            self._kill_at = time.monotonic() + KILL_GRACE

    def _scan(self, data: bytes) -> None:
        text = self._partial + data.decode("utf-8", "replace")
        lines = re.split(r"\r\n|\r|\n", text)
        self._partial = lines.pop()[-4096:]
        for line in lines:
            if not self.completed and self.marker.match(_ESCAPES.sub("", line)):
                self.completed = True
                if self.exit_grace > 0:
                    self._grace_until = time.monotonic() + self.exit_grace

    def run(self, parent: int) -> int:
        master = self._start()
        while True:
            try:
                ready, _, _ = select.select([master], [], [], 0.5)
            except InterruptedError:
                continue
            if ready:
                try:
                    data = os.read(master, READ_SIZE)
                except OSError as exc:
                    if exc.errno != errno.EIO:
                        raise
                    data = b""
                if not data:
                    break
                os.write(1, data)
                self._scan(data)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                # Drain what the agent wrote last, without waiting on its children.
                while select.select([master], [], [], 0.1)[0]:
                    try:
                        data = os.read(master, READ_SIZE)
                    except OSError:
                        break
                    if not data:
                        break
                    os.write(1, data)
                    self._scan(data)
                os.close(master)
                return os.waitstatus_to_exitcode(status)
            self._watch(parent)
        os.close(master)
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)

    def _watch(self, parent: int) -> None:
        now = time.monotonic()
        if not self.orphaned and os.getppid() != parent:
            self.orphaned = True
            self.stop()
        if self._grace_until is not None and now >= self._grace_until and self._kill_at is None:
            say(f"the agent is still running {self.exit_grace:g} s after its completion "
                "marker; stopping it")
            self.stop()
        if self._kill_at is not None and now >= self._kill_at and not self._killed:
            self._killed = True
            self.stop(signal.SIGKILL)


def push(clone: Path, branch: str) -> str:
    git(clone, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
    return git(clone, "rev-parse", "HEAD").stdout.strip()


def exit_code(code: int) -> int:
    return 128 - code if code < 0 else code


def main(argv: list[str]) -> int:
    here = Path.cwd()
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    parent = os.getppid()
    workdir = Path(tempfile.mkdtemp(prefix="pirun-ray-issue-"))
    clone = workdir / "repo"
    agent: Agent | None = None

    def on_signal(signum: int, _frame: object) -> None:
        # Ray's stop_job (pirun stop, a timeout, the batch's cleanup) ends up here.
        if agent is not None and agent.pid:
            agent.stopped = True
            agent.stop()
        else:
            raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, on_signal)
    try:
        try:
            start = prepare(spec, clone)
        except JobError as exc:
            say(f"error: {exc}")
            return 1
        say(f"node {os.uname().nodename}: {spec['branch']} from {start} in {clone}")
        prompt = clone / PROMPT_NAME
        swaps = local_paths(spec, clone, prompt)
        # A prompt template's `$worktree` names the local worktree, too.
        prompt.write_text(to_node((here / "prompt.md").read_text(encoding="utf-8"), swaps),
                          encoding="utf-8")
        exclude = clone / ".git" / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as handle:
            handle.write(f"\n{PROMPT_NAME}\n")
        env = {**os.environ, **spec.get("env", {}),
               "PIRUN_WORKTREE": str(clone), "PIRUN_REPO": str(clone)}
        env.setdefault("TERM", "xterm-256color")
        agent = Agent(agent_argv(spec, swaps), clone, env, str(spec["issue"]),
                      float(spec.get("exit_grace") or 0))
        code = agent.run(parent)
        if agent.orphaned or os.getppid() != parent:
            say("error: node lost (the Ray worker running this job is gone); not pushing")
            return 1
        if agent.stopped:
            say("stopped; not pushing")
            return exit_code(code) or 143
        if code != 0 and not agent.completed:
            return exit_code(code)
        try:
            sha = push(clone, spec["branch"])
        except JobError as exc:
            say(f"error: push failed: {exc}")
            return exit_code(code) or 1
        say(f"pushed {spec['branch']} {sha}")
        return exit_code(code)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
