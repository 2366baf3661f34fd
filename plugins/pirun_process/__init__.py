"""pirun plugin: the process session backend (`backend: process`).

Sessions are plain background processes, for machines without tmux and for CI.
There is no terminal to attach to or type into: the exec wrapper writes the log,
and `pirun logs -f N` follows it.

Each session is a JSON record in `<run_dir>/sessions/<name>.json` holding the pid
and the process's start time, so a pid the kernel has since given to another
process is never mistaken for the session (nor signalled by `kill`).

A session's process exists before its record does, so it starts behind a gate: a
small `sh` that waits for one line from pirun on its stdin, sent only once the
record is on disk, and then becomes the session's command (`exec`, same pid and
start time). If the pirun starting it dies in between (kill -9), the gate reads
end-of-file and exits without running anything: a session nobody can list, stop
or resume never runs an agent, and the next `pirun batch` starts the issue once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# shutil is imported where it is used: bz2, lzma and zlib come with it, 1.6 MiB
# in every session's exec wrapper, which loads this module and never needs them.
from pirun.api import (
    BackendError,
    Config,
    Register,
    SessionSpec,
    hookimpl,
    procfs,
    utc_now,
    write_text,
)
from pirun.api import (
    check_session_name as check_name,
)

#: Seconds `kill` waits after SIGTERM before it SIGKILLs what is left.
KILL_GRACE = 3.0

#: The gate in front of every session's command (see the module docstring). The
#: command arrives as the positional parameters and is run by `exec "$@"`: never
#: parsed by the shell. Exit code 125: pirun went away before recording the session.
GATE = 'read -r go && [ "$go" = go ] || exit 125; exec "$@" </dev/null'

@dataclass(frozen=True)
class SessionRecord:
    name: str
    pid: int
    start_time: int
    started_at: str = ""

    @property
    def proc(self) -> procfs.ProcId:
        return procfs.ProcId(self.pid, self.start_time)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionRecord:
        return cls(
            name=str(data["name"]),
            pid=int(data["pid"]),
            start_time=int(data["start_time"]),
            started_at=str(data.get("started_at", "")),
        )


@dataclass
class ProcessBackend:
    """Sessions as detached processes, each leading its own session and process group."""

    sessions_dir: Path
    grace: float = KILL_GRACE
    name: str = field(default="process", init=False)
    # Children started by this instance, so that the ones that exit are reaped
    # (a batch is long-lived; zombies would pile up) without a SIGCHLD handler.
    _children: dict[int, subprocess.Popen[bytes]] = field(
        default_factory=dict, init=False, repr=False
    )

    def start(self, spec: SessionSpec) -> None:
        check_name(spec.name)
        if not spec.argv:
            raise BackendError(f"cannot start session {spec.name}: no command given")
        if not spec.cwd.is_dir():
            raise BackendError(
                f"cannot start session {spec.name}: no such directory: {spec.cwd}"
            )
        if self.exists(spec.name):
            raise BackendError(f"session {spec.name} already exists")
        env = {**os.environ, **spec.env}
        # The gate execs the command only later, where a missing program could not
        # be reported to the caller any more: look for it now.
        if not _executable(spec.argv[0], spec.cwd, env):
            raise BackendError(f"cannot start {spec.argv[0]}: no such executable")
        try:
            # A new session: the process outlives the pirun command that started
            # it, and is out of reach of that command's terminal (Ctrl-C, hangup).
            # No output is kept here: the exec wrapper writes spec.log_path itself.
            proc = subprocess.Popen(
                ["/bin/sh", "-c", GATE, "pirun-gate", *spec.argv],
                cwd=spec.cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot start {spec.argv[0]}: {exc}") from None
        self._children[proc.pid] = proc
        gate = proc.stdin
        assert gate is not None  # stdin=PIPE
        # The child is not reaped before we wait for it, so its /proc entry is there
        # even if it has already exited.
        stat = procfs.read_stat(proc.pid)
        record = SessionRecord(
            name=spec.name,
            pid=proc.pid,
            start_time=stat.start_time if stat is not None else -1,
            started_at=utc_now(),
        )
        try:
            self._write(record)
        except BaseException as exc:
            # An untracked process would run on with nobody able to stop it: close
            # the gate (end-of-file: it exits without running the command).
            with contextlib.suppress(OSError):
                gate.close()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            del self._children[proc.pid]
            if isinstance(exc, OSError):
                raise BackendError(f"cannot record session {spec.name}: {exc}") from None
            raise
        # Recorded: open the gate. A gate already gone (killed meanwhile) leaves a
        # record of a dead process, which every reader discards.
        try:
            with contextlib.suppress(OSError):
                gate.write(b"go\n")
        finally:
            with contextlib.suppress(OSError):
                gate.close()

    def exists(self, name: str) -> bool:
        check_name(name)
        loaded = self._read(self._path(name))
        return loaded is not None and loaded[0] is not None and self._alive(loaded[0])

    def list(self, prefix: str) -> list[str]:
        try:
            paths = sorted(self.sessions_dir.glob("*.json"))
        except OSError:
            return []
        names = []
        for path in paths:
            if not path.stem.startswith(prefix):
                continue
            loaded = self._read(path)
            if loaded is None:
                continue
            record, inode = loaded
            if record is not None and record.name == path.stem and self._alive(record):
                names.append(record.name)
            else:
                self._discard(path, inode)
        return names

    def kill(self, name: str) -> None:
        check_name(name)
        path = self._path(name)
        loaded = self._read(path)
        if loaded is None:
            return
        record, inode = loaded
        leader = procfs.read_stat(record.pid) if record is not None else None
        if record is not None and leader is not None and leader.start_time == record.start_time:
            # The leader is verifiably ours (a zombie still holds its pid), so its
            # process group is ours too: it leads the session start() created.
            tree = procfs.process_tree([record.pid], groups=[record.pid])
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(record.pid, signal.SIGTERM)
            procfs.terminate(tree, self.grace)
            self._reap(record.proc)
        self._discard(path, inode)

    def attach(self, name: str) -> None:
        raise BackendError(
            "the process backend has no terminal to attach to; use `pirun logs -f N`"
        )

    def send_text(self, name: str, text: str) -> None:
        raise BackendError(
            "sending text to a session (nudging) needs the tmux backend; "
            "the process backend's sessions have no terminal input"
        )

    # -- records ------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        return self.sessions_dir / f"{name}.json"

    def _write(self, record: SessionRecord) -> None:
        # Readers see the old record or the new one, never half of one.
        write_text(self._path(record.name), json.dumps(asdict(record)))

    def _read(self, path: Path) -> tuple[SessionRecord | None, int] | None:
        """The record (None if unreadable) and the file's inode; None if no file."""
        try:
            with path.open("rb") as handle:
                inode = os.fstat(handle.fileno()).st_ino
                raw = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BackendError(f"cannot read session record {path}: {exc}") from None
        try:
            return SessionRecord.from_dict(json.loads(raw)), inode
        except (ValueError, KeyError, TypeError):
            return None, inode

    def _discard(self, path: Path, inode: int) -> None:
        # start() replaces records by rename, so a record written since we read this
        # one is a different inode: remove only the file we judged.
        try:
            if path.stat().st_ino == inode:
                path.unlink()
        except FileNotFoundError:
            pass

    # -- processes ----------------------------------------------------------------

    def _alive(self, record: SessionRecord) -> bool:
        if procfs.is_alive(record.proc):
            return True
        # More than procfs.is_alive: an ended session may be our own child, whose
        # exit status is collected here so that it does not stay a zombie.
        self._reap(record.proc)
        return False

    def _reap(self, proc: procfs.ProcId) -> None:
        """Collect the exit status of our exited child, so it does not stay a zombie."""
        child = self._children.get(proc.pid)
        if child is not None:
            if child.poll() is not None:
                del self._children[proc.pid]
            return
        stat = procfs.read_stat(proc.pid)
        # Only that very process, only a zombie, only our child: waiting on a running
        # child, or on one some other part of the program owns, would steal its status.
        if (
            stat is None
            or stat.id != proc
            or not stat.dead
            or stat.ppid != os.getpid()
        ):
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(proc.pid, os.WNOHANG)


def _executable(program: str, cwd: Path, env: dict[str, str]) -> bool:
    """Whether exec would find `program` the way the gate's `exec` looks it up."""
    import shutil

    if "/" in program:
        path = cwd / program  # an absolute `program` replaces cwd
        return path.is_file() and os.access(path, os.X_OK)
    return shutil.which(program, path=env.get("PATH", os.defpath)) is not None


@hookimpl
def pirun_register_backends(register: Register) -> None:
    register("process", process_backend)


def process_backend(config: Config) -> ProcessBackend:
    if not procfs.available():
        raise BackendError("the process backend needs /proc (Linux); use backend: tmux")
    return ProcessBackend(config.run_dir / "sessions")
