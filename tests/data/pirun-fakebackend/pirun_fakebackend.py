"""A third-party pirun plugin for pirun's tests: the `fake` session backend.

It uses only the public plugin interface: `pirun_config_options` declares the
`fake.marker` key and `pirun_register_backends` registers the backend `fake`.
Sessions are detached processes whose pids are kept in one JSON file under
`config.run_dir`, so every pirun process sees the same sessions.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from pirun.api import BackendError, Option, Register, SessionSpec, hookimpl

NAME = "fake"

#: Seconds `kill` waits after SIGTERM before it SIGKILLs the session's group.
KILL_GRACE = 5.0


class FakeBackend:
    name = NAME

    def __init__(self, run_dir: Path, marker: str | None) -> None:
        self.state = run_dir / "fake-sessions.json"
        self.marker = marker
        # Children started here are polled (and so reaped) through their Popen.
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # -- the pid file -----------------------------------------------------------------

    def _read(self) -> dict[str, int]:
        try:
            data: Any = json.loads(self.state.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise BackendError(f"fake backend state {self.state} is unreadable: {exc}") from None
        return {str(name): int(pid) for name, pid in data.items()}

    def _write(self, sessions: dict[str, int]) -> None:
        self.state.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state.with_name(f".{self.state.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(sessions, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.state)

    def _alive(self, pid: int) -> bool:
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a zombie nobody has reaped yet is not a live session
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        return stat.rsplit(")", 1)[-1].split()[0] != "Z"

    # -- SessionBackend -------------------------------------------------------------------

    def start(self, spec: SessionSpec) -> None:
        if self.exists(spec.name):
            raise BackendError(f"fake session {spec.name} already exists")
        env = {**os.environ, **spec.env}
        if self.marker is not None:
            env["PIRUN_FAKE_MARKER"] = self.marker
        output: Any = subprocess.DEVNULL
        if spec.log_path is not None:
            spec.log_path.parent.mkdir(parents=True, exist_ok=True)
            output = open(spec.log_path, "ab")  # noqa: SIM115 - closed below
        try:
            child = subprocess.Popen(
                list(spec.argv),
                cwd=spec.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise BackendError(f"fake backend cannot start {spec.name}: {exc}") from None
        finally:
            if output is not subprocess.DEVNULL:
                output.close()
        self._children[child.pid] = child
        sessions = self._read()
        sessions[spec.name] = child.pid
        self._write(sessions)

    def exists(self, name: str) -> bool:
        pid = self._read().get(name)
        return pid is not None and self._alive(pid)

    def list(self, prefix: str) -> list[str]:
        return sorted(
            name for name, pid in self._read().items()
            if name.startswith(prefix) and self._alive(pid)
        )

    def kill(self, name: str) -> None:
        sessions = self._read()
        pid = sessions.pop(name, None)
        if pid is not None and self._alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + KILL_GRACE
            while self._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                child = self._children.get(pid)
                if child is not None:
                    child.wait()
        self._write(sessions)

    def attach(self, name: str) -> None:
        raise BackendError("the fake backend has no terminal to attach to")

    def send_text(self, name: str, text: str) -> None:
        raise BackendError("the fake backend has no terminal to type into")


@hookimpl
def pirun_config_options() -> dict[str, dict[str, Option]]:
    return {
        "fake": {
            "marker": Option(str, None, "Exported to fake sessions as PIRUN_FAKE_MARKER."),
        }
    }


@hookimpl
def pirun_register_backends(register: Register) -> None:
    register(NAME, lambda config: FakeBackend(config.run_dir, config.get("fake.marker")))
