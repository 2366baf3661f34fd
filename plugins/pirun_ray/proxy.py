"""The local job proxy: `python -m pirun_ray.proxy JOB_SPEC.json`.

Under `backend: ray` this is the "agent" the exec wrapper runs on its pty. It
submits the issue's Ray job (Ray's Job Submission REST API, see `rest`; one proxy
runs per running agent, and importing Ray would triple its memory), copies the
job's logs to its stdout as they come (so the wrapper logs them, and detects
markers and writes the status record, as for a local agent) and exits 0 when the
job succeeded.

The agent's completion marker is held back until the job has finished: only a
job that pushed the branch may complete the issue. Everything from the first line
carrying the marker on is buffered and released, in order, when the job is over;
if the push failed, the node was lost or the job failed for a reason of its own,
an error marker saying why is printed first, so the issue ends as `error`. Before
releasing a completion the proxy fast-forwards the local issue branch to the
pushed one, so the local worktree (lifecycle hooks, pull requests, cleanup's merge
check) has the agent's commits.

SIGTERM or SIGHUP (`pirun stop N`, a timeout, the wrapper going away) stops the
Ray job and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

from pirun.api import PirunError, key_name
from pirun_ray import JobSpec, entrypoint_resources, job_record_path, resolve_address
from pirun_ray.rest import TERMINAL, JobClient

PREFIX = "[pirun-ray]"
#: Seconds between job status queries at first; after FAST_PERIOD seconds the
#: interval grows to POLL_MAX (a thousand jobs must not flood the dashboard). The
#: end of the log stream, which comes with the end of the job, is noticed at once.
POLL = 0.5
FAST_PERIOD = 10.0
POLL_MAX = 5.0
#: Seconds the log stream may still deliver once the job is over; the rest is
#: fetched in one request (the stream itself takes seconds to notice the end).
TAIL_DRAIN = 0.3
#: Most seconds for that request.
LOGS_TIMEOUT = 10.0
#: Seconds before a broken log stream is opened again.
TAIL_RETRY = 1.0
#: Seconds a job may wait for a node before the log says so.
PENDING_NOTE = 10.0
#: How long the cluster may not answer before the run is given up.
CONTACT_TIMEOUT = 120.0
#: Most seconds spent asking Ray to stop the job on the way out.
STOP_TIMEOUT = 2.5
GIT_TIMEOUT = 120


class Failure(Exception):
    """Why the job could not run, as the one line that ends the issue."""


def one_line(value: object) -> str:
    lines = [line.strip() for line in str(value).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else type(value).__name__


class Relay:
    """The job's log text on its way to stdout, completion marker held back."""

    def __init__(self, issue: str) -> None:
        self.issue = issue
        self.marker = f"###TASK_COMPLETE_{issue}###"
        self.consumed = 0
        self.partial = ""
        self.held: list[str] = []
        self.pushed: str | None = None
        self.error: str | None = None

    @property
    def holding(self) -> bool:
        return bool(self.held)

    def write(self, text: str) -> None:
        if not text:
            return
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.buffer.write(text.encode("utf-8", "replace"))
            sys.stdout.buffer.flush()

    def note(self, text: str) -> None:
        self.write(f"{PREFIX} {text}\n")

    def error_marker(self, reason: str) -> None:
        self.write(f"###TASK_ERROR_{self.issue}### {reason}\n")

    def feed(self, text: str) -> None:
        """A piece of the job's log, in order; `consumed` counts what was fed."""
        self.consumed += len(text)
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        for line in lines:
            self._line(line + "\n")
        # A partial line goes out at once (an agent's prompt has no newline) unless it
        # could be the start of a marker.
        if self.partial and not self.holding and "#" not in self.partial:
            self.write(self.partial)
            self.partial = ""

    def _line(self, line: str) -> None:
        if line.startswith(f"{PREFIX} pushed "):
            self.pushed = line.split()[2] if len(line.split()) > 2 else ""
        elif line.startswith(f"{PREFIX} error: "):
            self.error = line[len(f"{PREFIX} error: "):].strip()
        if self.holding or self.marker in line:
            self.held.append(line)
        else:
            self.write(line)

    def release(self) -> None:
        self.write("".join(self.held) + self.partial)
        self.held, self.partial = [], ""


class Proxy:
    def __init__(self, spec: JobSpec, relay: Relay, stop: threading.Event,
                 run_dir: Path) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self.relay = relay
        self.stop = stop
        self.address = spec.address
        self.job_id = ""
        self.finished = False
        self.stopped = False
        self.lost_contact: str | None = None

    # -- submitting ----------------------------------------------------------------

    def job_files(self, directory: Path) -> None:
        spec = self.spec
        shutil.copyfile(Path(__file__).with_name("job.py"), directory / "job.py")
        shutil.copyfile(spec.prompt_file, directory / "prompt.md")
        forwarded = {
            key: value for key, value in os.environ.items()
            if key.startswith("PIRUN_") or key in spec.forward_env
        }
        job = {
            "issue": spec.issue,
            "branch": spec.branch,
            "base_branch": spec.base_branch,
            "base_commit": spec.base_commit,
            "remote": spec.remote,
            "argv": spec.argv,
            "local": {"prompt_file": spec.prompt_file, "worktree": spec.worktree,
                      "repo": spec.repo, "python": spec.python},
            "env": forwarded,
            "exit_grace": spec.exit_grace,
        }
        (directory / "job.json").write_text(json.dumps(job, indent=2), encoding="utf-8")

    def submit(self, client: Any) -> str:
        spec = self.spec
        submission_id = f"pirun-issue-{key_name(spec.issue)}-{uuid.uuid4().hex[:12]}"
        with tempfile.TemporaryDirectory(prefix="pirun-ray-job-") as tmp:
            self.job_files(Path(tmp))
            try:
                return str(client.submit_job(
                    # A shell string for Ray: every element is quoted, and none is issue text.
                    entrypoint=shlex.join([spec.node_python, "job.py", "job.json"]),
                    submission_id=submission_id,
                    runtime_env={"working_dir": tmp},
                    metadata={"pirun_issue": str(spec.issue), "pirun_branch": spec.branch,
                              "pirun_repo": spec.repo},
                    **entrypoint_resources(spec.resources),
                ))
            except Exception as exc:
                raise Failure(f"cannot submit the Ray job: {one_line(exc)}") from None

    def record_job(self) -> None:
        with contextlib.suppress(OSError):
            record = {"submission_id": self.job_id, "address": self.address}
            job_record_path(self.run_dir, self.spec.issue).write_text(
                json.dumps(record), encoding="utf-8")

    # -- following -----------------------------------------------------------------

    async def _sleep(self, seconds: float, tail: asyncio.Task[None]) -> None:
        """Wait `seconds`, or less if a stop was asked for or the log stream ended."""
        end = time.monotonic() + seconds
        # A stream that had already ended (and the job not, or not known to be) must
        # not make this a busy loop.
        streaming = not tail.done()
        while not self.stop.is_set() and not (streaming and tail.done()) and (
            time.monotonic() < end
        ):
            await asyncio.sleep(min(0.1, max(0.0, end - time.monotonic())))

    async def _tail(self, client: Any) -> None:
        """Relay the log stream until it ends (which it does when the job is over)."""
        while not self.finished:
            seen = 0
            try:
                async for chunk in client.tail_job_logs(self.job_id):
                    # A reopened stream starts from the beginning: skip what was relayed.
                    self.relay.feed(chunk[max(0, self.relay.consumed - seen):])
                    seen += len(chunk)
                return
            except Exception:
                await asyncio.sleep(TAIL_RETRY)

    async def follow(self, client: Any) -> None:
        tail = asyncio.create_task(self._tail(client))
        failing_since: float | None = None
        submitted = time.monotonic()
        noted = False
        interval = POLL
        while True:
            if self.stop.is_set():
                self.stopped = True
                break
            try:
                status = await asyncio.to_thread(client.get_job_status, self.job_id)
            except Exception as exc:
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > CONTACT_TIMEOUT:
                    self.lost_contact = one_line(exc)
                    break
            else:
                failing_since = None
                if status in TERMINAL:
                    break
                if tail.done():
                    # The stream closed early (a dashboard restart?): open it again.
                    tail = asyncio.create_task(self._tail(client))
                if status == "PENDING" and not noted and (
                    time.monotonic() - submitted > PENDING_NOTE
                ):
                    noted = True
                    wanted = ", ".join(f"{k}={v:g}" for k, v in self.spec.resources.items())
                    self.relay.note(f"the job is waiting for a node with free resources "
                                    f"({wanted or 'none asked'})")
            await self._sleep(interval, tail)
            if time.monotonic() - submitted > FAST_PERIOD:
                interval = min(POLL_MAX, interval * 1.5)
        self.finished = True
        if self.stopped:
            tail.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(client.stop_job, self.job_id),
                                       STOP_TIMEOUT)
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(tail, TAIL_DRAIN)
        tail.cancel()
        # Whatever the stream had not delivered yet.
        with contextlib.suppress(Exception):
            logs = await asyncio.wait_for(
                asyncio.to_thread(client.get_job_logs, self.job_id), LOGS_TIMEOUT)
            if len(logs) > self.relay.consumed:
                self.relay.feed(logs[self.relay.consumed:])

    # -- the end -------------------------------------------------------------------

    def node_lost(self, client: Any, info: Any) -> bool:
        message = (getattr(info, "message", "") or "").lower()
        if "actor died" in message or ("node" in message and "dead" in message):
            return True
        node_id = getattr(info, "driver_node_id", None)
        if not node_id:
            return False
        try:
            state = client.get_node_state(node_id)
        except Exception:
            return False
        return state is None or state.upper() == "DEAD"

    def update_local_branch(self) -> None:
        """Fast-forward the local issue branch (checked out in the local worktree) to
        what the job pushed; a note, not a failure, if it cannot."""
        branch, worktree = self.spec.branch, Path(self.spec.worktree)
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        steps = (
            ["fetch", "--quiet", "--no-tags", self.spec.remote,
             f"+refs/heads/{branch}:refs/remotes/origin/{branch}"],
            ["merge", "--ff-only", "--quiet", f"refs/remotes/origin/{branch}"],
        )
        for args in steps:
            try:
                proc = subprocess.run(["git", *args], cwd=worktree, capture_output=True,
                                      text=True, env=env, stdin=subprocess.DEVNULL,
                                      timeout=GIT_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired) as exc:
                self.relay.note(f"could not update the local branch: {one_line(exc)}")
                return
            if proc.returncode != 0:
                self.relay.note(f"could not update the local branch {branch}: git {args[0]}: "
                                f"{one_line(proc.stderr or proc.stdout)}")
                return

    def finish(self, client: Any) -> int:
        relay = self.relay
        if self.stopped:
            relay.note(f"stopped Ray job {self.job_id}")
            relay.release()
            return 143
        if self.lost_contact is not None:
            relay.error_marker(f"lost contact with the Ray cluster: {self.lost_contact}")
            relay.release()
            return 1
        info = None
        for attempt in range(5):
            try:
                info = client.get_job_info(self.job_id)
                break
            except Exception:
                time.sleep(0.5 * (attempt + 1))
        if info is None:
            relay.error_marker("cannot read the Ray job's result")
            relay.release()
            return 1
        if relay.pushed is not None:
            self.update_local_branch()
        code, reason = 0, None
        if info.status == "SUCCEEDED":
            code = 0
        elif info.status == "STOPPED":
            code, reason = 1, "the Ray job was stopped"
        elif info.driver_exit_code is not None:
            code, reason = info.driver_exit_code or 1, relay.error
        else:
            code = 1
            reason = ("node lost" if self.node_lost(client, info)
                      else one_line(info.message or "job failed"))
        if reason:
            relay.error_marker(reason)
        elif code and relay.holding:
            # The job failed after a completion marker without telling why.
            relay.error_marker(f"the Ray job failed: {one_line(info.message or code)}")
        relay.release()
        return code

    def run(self) -> int:
        if self.stop.is_set():
            return 143
        try:
            # Resolved when the spec was written; `auto` here only from an older spec.
            self.address = resolve_address(self.spec.address)
        except PirunError as exc:
            raise Failure(str(exc)) from None
        try:
            client = JobClient(self.address)
            client.check()
        except Exception as exc:
            raise Failure(f"cannot reach the Ray cluster at {self.address}: {one_line(exc)}") \
                from None
        self.job_id = self.submit(client)
        self.record_job()
        wanted = ", ".join(f"{k}={v:g}" for k, v in self.spec.resources.items()) or "nothing"
        self.relay.note(f"submitted Ray job {self.job_id} to {self.address} (resources: {wanted})")
        asyncio.run(self.follow(client))
        return self.finish(client)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m pirun_ray.proxy JOB_SPEC.json", file=sys.stderr)
        return 3
    spec_path = Path(args[0])
    spec = JobSpec.read(spec_path)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, on_signal)
    relay = Relay(spec.issue)
    try:
        code = Proxy(spec, relay, stop, spec_path.parent).run()
    except Failure as exc:
        relay.error_marker(str(exc))
        code = 1
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    return code


if __name__ == "__main__":
    # os._exit: a stuck HTTP thread may not delay the end.
    os._exit(main())
