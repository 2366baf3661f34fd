"""A pirun session backend on GNU screen: `backend: screen` in `.pirun.yaml`.

A complete third-party plugin in one module. screen runs the argv it is given with
execvp (no shell), and `screen.socket_dir` (SCREENDIR) keeps pirun's sessions on a
private socket directory, away from the user's own screens.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

# shutil and tempfile are imported where they are used: every session's exec
# wrapper loads this module, and they cost it 2 MiB it never needs.
from pirun.api import (
    BackendError,
    Config,
    Option,
    Register,
    SessionSpec,
    check_session_name,
    hookimpl,
    procfs,
)

# `screen -ls` lines look like: "\t12345.pi-issue-42\t(11/25/26 20:28:44)\t(Detached)"
_LISTING = re.compile(r"^\s+(\d+)\.(\S+)\s", re.MULTILINE)


class ScreenBackend:
    name = "screen"
    #: Seconds between screen's hang-up and SIGKILL for programs that ignore it.
    grace = 3.0

    def __init__(self, socket_dir: Path | None) -> None:
        self.socket_dir = socket_dir

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, **(extra or {})}
        if self.socket_dir is not None:
            self.socket_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            env["SCREENDIR"] = str(self.socket_dir)
        return env

    def _screen(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["screen", *args], env=self._env(), capture_output=True, text=True,
            stdin=subprocess.DEVNULL, check=False,
        )

    def _sessions(self) -> dict[str, str]:
        """Live sessions by name, each with screen's `pid.name` id."""
        out = self._screen("-ls").stdout
        return {name: f"{pid}.{name}" for pid, name in _LISTING.findall(out)}

    def start(self, spec: SessionSpec) -> None:
        import shutil

        check_session_name(spec.name)
        if not spec.argv or spec.argv[0].startswith("-"):
            raise BackendError("session command must start with a program path")
        if shutil.which(spec.argv[0], path=spec.env.get("PATH")) is None:
            raise BackendError(f"cannot start {spec.name}: program not found: {spec.argv[0]}")
        if not Path(spec.cwd).is_dir():
            raise BackendError(f"cannot start {spec.name}: no such directory: {spec.cwd}")
        if self.exists(spec.name):
            raise BackendError(f"session {spec.name} already exists")
        proc = subprocess.run(
            ["screen", "-dmS", spec.name, *spec.argv],
            cwd=spec.cwd, env=self._env(spec.env), capture_output=True, text=True,
            stdin=subprocess.DEVNULL, check=False,
        )
        if proc.returncode != 0:
            raise BackendError(f"screen could not start {spec.name}: {proc.stderr.strip()}")
        # `screen -dm` returns once it has forked; wait until the session is listed.
        deadline = time.monotonic() + 5
        while spec.name not in self._sessions():
            if time.monotonic() > deadline:
                return  # it may have already run to completion
            time.sleep(0.02)

    def exists(self, name: str) -> bool:
        check_session_name(name)
        return name in self._sessions()

    def list(self, prefix: str) -> list[str]:
        return sorted(name for name in self._sessions() if name.startswith(prefix))

    def kill(self, name: str) -> None:
        check_session_name(name)
        target = self._sessions().get(name)
        if target is None:
            return
        # Quitting hangs up the session's terminal: whatever ignores SIGHUP, or runs
        # in a session of its own, lives on. Note screen's whole tree first, then
        # give it `grace` seconds before SIGKILL.
        tree = procfs.process_tree([int(target.split(".", 1)[0])])
        self._screen("-S", target, "-X", "quit")
        procfs.terminate(tree, self.grace)

    def attach(self, name: str) -> None:
        check_session_name(name)
        target = self._sessions().get(name)
        if target is None:
            raise BackendError(f"no screen session {name}")
        os.execvpe("screen", ["screen", "-r", target], self._env())

    def send_text(self, name: str, text: str) -> None:
        import tempfile

        check_session_name(name)
        target = self._sessions().get(name)
        if target is None:
            raise BackendError(f"no screen session {name}")
        # The text goes through a file into a register and is pasted: screen never
        # reads it as commands or key names.
        with tempfile.NamedTemporaryFile("w", delete=False, encoding="utf-8") as handle:
            handle.write(text)
        try:
            self._screen("-S", target, "-X", "readreg", "p", handle.name)
            self._screen("-S", target, "-X", "paste", "p")
            self._screen("-S", target, "-X", "stuff", "\r")
            # `-X` only hands a command over; screen reads the file when it gets to
            # it. A query is answered in turn, after the three: then it has been read.
            self._screen("-S", target, "-Q", "number")
        finally:
            os.unlink(handle.name)


@hookimpl
def pirun_config_options() -> dict[str, object]:
    return {"screen": {"socket_dir": Option(str, None, "SCREENDIR for pirun's sessions.")}}


@hookimpl
def pirun_register_backends(register: Register) -> None:
    register("screen", screen_backend)


def screen_backend(config: Config) -> ScreenBackend:
    import shutil

    if shutil.which("screen") is None:
        raise BackendError("GNU screen is not installed; install it or choose another backend")
    socket_dir = config.get("screen.socket_dir")
    return ScreenBackend(Path(socket_dir) if socket_dir else None)
