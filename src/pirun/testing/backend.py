"""`BackendContract`: what every session backend must do, with real processes."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pirun import procfs
from pirun.errors import BackendError
from pirun.model import SessionSpec
from pirun.protocols import SessionBackend

T = TypeVar("T")

#: Long enough for a loaded machine; a passing poll returns as soon as it can.
DEADLINE = 30.0

# Each program writes what it received to the file named by its first argument,
# through a rename, so a reader never sees half of it.
DUMP_ARGV = """
import json, os, sys
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w", encoding="utf-8") as f:
    json.dump(sys.argv[2:], f)
os.replace(tmp, sys.argv[1])
"""

DUMP_ENV_AND_CWD = """
import json, os, sys
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w", encoding="utf-8") as f:
    json.dump({"env": dict(os.environ), "cwd": os.getcwd()}, f)
os.replace(tmp, sys.argv[1])
"""

READ_LINE = """
import os, sys
line = sys.stdin.readline()
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w", encoding="utf-8") as f:
    f.write(line)
os.replace(tmp, sys.argv[1])
"""

# Ignores SIGTERM and SIGHUP, and starts a child in a session of its own, out of
# reach of any signal aimed at its process group or terminal.
STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
)
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
os.replace(tmp, sys.argv[1])
time.sleep(60)
"""

#: Text that would leave a file named PWNED* behind if anything interpreted it.
HOSTILE = [
    "$(touch PWNED1)", "`touch PWNED2`", "x; touch PWNED3", "#(touch PWNED4)",
    "#{session_name}", "ends with a semicolon;", ";", "ends with an escaped semicolon\\;",
    "-c", "--", "two  spaces", "'single' \"double\"", "line\nbreak", "", "ünïcødé",
]

INVALID_NAMES = ["", "pi.issue", "pi:issue", "../pi", "pi/issue", "pi issue",
                 "#(touch PWNED)", "-pi", "pi;", "=pi"]


def wait_until(
    predicate: Callable[[], T], timeout: float = DEADLINE, interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll `predicate` until it returns something truthy and return that; after
    `timeout` seconds (one last call included) fail with an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _pwned(*dirs: Path) -> list[Path]:
    return [p for d in dirs for p in d.rglob("PWNED*")]


def _spec(name: str, *argv: str, cwd: Path, env: dict[str, str] | None = None) -> SessionSpec:
    return SessionSpec(name=name, argv=argv, cwd=cwd, env=env or {})


def _sleeper(name: str, cwd: Path) -> SessionSpec:
    return _spec(name, "sh", "-c", "sleep 30", cwd=cwd)


class BackendContract:
    """Subclass and define the `contract_backend` fixture: a backend with no sessions.

    Set `accepts_input = False` for a backend without terminal input: its
    `send_text` must then raise BackendError instead of dropping the text.
    """

    accepts_input = True

    @pytest.fixture
    def contract_backend(self) -> SessionBackend:
        raise NotImplementedError("define the contract_backend fixture in the subclass")

    @pytest.fixture
    def backend(self, contract_backend: SessionBackend) -> Iterator[SessionBackend]:
        yield contract_backend
        for prefix in ("pi-", "other-"):
            for name in contract_backend.list(prefix):
                contract_backend.kill(name)

    @pytest.fixture
    def work(self, tmp_path: Path) -> Path:
        path = tmp_path / "work"
        path.mkdir()
        return path

    def test_is_a_session_backend_with_a_name(self, backend: SessionBackend) -> None:
        assert isinstance(backend, SessionBackend), "does not implement SessionBackend"
        assert isinstance(backend.name, str) and backend.name, "a backend needs a name"

    def test_started_session_exists_is_listed_and_is_gone_after_kill(
        self, backend: SessionBackend, work: Path
    ) -> None:
        backend.start(_sleeper("pi-issue-1", work))
        assert backend.exists("pi-issue-1"), "a started session does not exist"
        assert backend.list("pi") == ["pi-issue-1"]
        backend.kill("pi-issue-1")
        assert not backend.exists("pi-issue-1"), "a killed session still exists"
        assert backend.list("pi") == []

    def test_no_sessions_yet_is_not_an_error(self, backend: SessionBackend) -> None:
        assert backend.list("pi") == []
        assert not backend.exists("pi-issue-1")
        backend.kill("pi-issue-1")

    def test_killing_twice_is_not_an_error(self, backend: SessionBackend, work: Path) -> None:
        backend.start(_sleeper("pi-issue-1", work))
        backend.kill("pi-issue-1")
        backend.kill("pi-issue-1")
        assert not backend.exists("pi-issue-1")

    def test_session_whose_process_exits_stops_existing(
        self, backend: SessionBackend, work: Path
    ) -> None:
        backend.start(_spec("pi-issue-1", "sh", "-c", "sleep 0.2", cwd=work))
        wait_until(lambda: not backend.exists("pi-issue-1"), what="the session to end")
        assert backend.list("pi") == []

    def test_argv_reaches_the_process_literally_without_a_shell(
        self, backend: SessionBackend, work: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "argv.json"
        backend.start(
            _spec("pi-issue-1", sys.executable, "-c", DUMP_ARGV, str(out), *HOSTILE, cwd=work)
        )
        assert wait_until(lambda: _json(out), what="the argv") == HOSTILE
        assert _pwned(tmp_path) == [], "something ran the argv through a shell"

    def test_single_element_argv_is_executed_not_run_by_a_shell(
        self, backend: SessionBackend, work: Path, tmp_path: Path
    ) -> None:
        # tmux runs a lone argument as `sh -c ARG`: a program path full of shell
        # syntax must still simply be executed.
        odd_dir = tmp_path / "odd $(touch PWNED) dir; `touch PWNED2`"
        odd_dir.mkdir()
        marker = tmp_path / "ran"
        program = odd_dir / "run me"
        program.write_text(f"#!/bin/sh\necho ran > '{marker}'\n")
        program.chmod(0o755)
        backend.start(_spec("pi-issue-1", str(program), cwd=work))
        assert wait_until(lambda: marker.exists() and marker.read_text()) == "ran\n"
        assert _pwned(tmp_path) == [], "a program path was run by a shell"

    def test_environment_from_spec_reaches_the_process(
        self, backend: SessionBackend, work: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "env.json"
        env = {
            "PIRUN_ISSUE": "PROJ-1",
            "PIRUN_HOSTILE": "$(touch PWNED) `touch PWNED2` #(touch PWNED3);",
            "PIRUN_FORMAT": "#{session_name}",
        }
        backend.start(
            _spec("pi-issue-1", sys.executable, "-c", DUMP_ENV_AND_CWD, str(out), cwd=work,
                  env=env)
        )
        seen = wait_until(lambda: _json(out), what="the environment")["env"]
        assert {key: seen.get(key) for key in env} == env
        assert _pwned(tmp_path) == []

    def test_process_runs_in_the_requested_working_directory(
        self, backend: SessionBackend, tmp_path: Path
    ) -> None:
        # tmux format-expands the start directory: `#(...)` in it would run a command.
        cwd = tmp_path / "dir #(touch PWNED) #{session_name};"
        cwd.mkdir()
        out = tmp_path / "cwd.json"
        backend.start(
            _spec("pi-issue-1", sys.executable, "-c", DUMP_ENV_AND_CWD, str(out), cwd=cwd)
        )
        assert Path(wait_until(lambda: _json(out))["cwd"]) == cwd.resolve()
        assert _pwned(tmp_path) == []

    def test_exists_and_kill_match_the_exact_name_not_a_prefix(
        self, backend: SessionBackend, work: Path
    ) -> None:
        backend.start(_sleeper("pi-issue-10", work))
        assert not backend.exists("pi-issue-1"), "exists matched a prefix"
        backend.kill("pi-issue-1")
        assert backend.exists("pi-issue-10"), "kill of pi-issue-1 ended pi-issue-10"

    def test_list_returns_only_sessions_with_the_prefix(
        self, backend: SessionBackend, work: Path
    ) -> None:
        for name in ("pi-issue-1", "pi-issue-PROJ-2", "other-issue-3"):
            backend.start(_sleeper(name, work))
        assert sorted(backend.list("pi-issue-")) == ["pi-issue-1", "pi-issue-PROJ-2"]
        assert backend.list("other-") == ["other-issue-3"]
        assert backend.list("nobody-") == []

    def test_starting_a_session_whose_name_is_taken_fails(
        self, backend: SessionBackend, work: Path
    ) -> None:
        backend.start(_sleeper("pi-issue-1", work))
        with pytest.raises(BackendError, match="already exists"):
            backend.start(_sleeper("pi-issue-1", work))
        assert backend.exists("pi-issue-1")

    @pytest.mark.parametrize("name", INVALID_NAMES)
    def test_invalid_session_names_are_rejected(
        self, backend: SessionBackend, work: Path, tmp_path: Path, name: str
    ) -> None:
        with pytest.raises(BackendError, match="invalid session name"):
            backend.start(_sleeper(name, work))
        with pytest.raises(BackendError, match="invalid session name"):
            backend.exists(name)
        with pytest.raises(BackendError, match="invalid session name"):
            backend.kill(name)
        assert _pwned(tmp_path) == []

    def test_missing_program_fails_to_start(self, backend: SessionBackend, work: Path) -> None:
        with pytest.raises(BackendError, match="no-such-program-for-pirun"):
            backend.start(_spec("pi-issue-1", "no-such-program-for-pirun", "arg", cwd=work))
        assert not backend.exists("pi-issue-1")

    def test_missing_working_directory_fails_to_start(
        self, backend: SessionBackend, tmp_path: Path
    ) -> None:
        with pytest.raises(BackendError, match="no such directory"):
            backend.start(_sleeper("pi-issue-1", tmp_path / "missing"))
        assert not backend.exists("pi-issue-1")

    def test_kill_stops_programs_ignoring_signals_and_their_own_session_children(
        self, backend: SessionBackend, work: Path, tmp_path: Path
    ) -> None:
        pids_file = tmp_path / "pids"
        backend.start(
            _spec("pi-issue-1", sys.executable, "-c", STUBBORN, str(pids_file), cwd=work)
        )
        text = wait_until(lambda: pids_file.read_text() if pids_file.exists() else "",
                          what="pids")
        procs = [stat.id for stat in map(procfs.read_stat, map(int, text.split())) if stat]
        assert len(procs) == 2, "the stubborn program or its child is not running"
        backend.kill("pi-issue-1")
        assert not backend.exists("pi-issue-1")
        wait_until(lambda: not any(procfs.is_alive(proc) for proc in procs),
                   what="every process of the session to end")

    def test_send_text_arrives_literally_or_is_refused(
        self, backend: SessionBackend, work: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "line"
        backend.start(_spec("pi-issue-1", sys.executable, "-c", READ_LINE, str(out), cwd=work))
        text = "fix it: $(touch PWNED) `touch PWNED2` #{session_name}; ünïcødé"
        if not self.accepts_input:
            with pytest.raises(BackendError):
                backend.send_text("pi-issue-1", text)
            return
        # The terminal holds the line until the program reads it, however late.
        backend.send_text("pi-issue-1", text)
        assert wait_until(lambda: out.exists() and out.read_text(), what="the line") == text + "\n"
        assert _pwned(tmp_path, work) == [], "sent text was executed"

    def test_send_text_to_a_missing_session_fails(self, backend: SessionBackend) -> None:
        with pytest.raises(BackendError):
            backend.send_text("pi-issue-404", "hello")
