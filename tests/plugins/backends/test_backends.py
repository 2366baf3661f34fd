"""The bundled session backends, tmux and process, against real processes.

Every backend is built through the plugin machinery from a `.pirun.yaml`; tmux
runs on a private socket, never the user's server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import wait_until

from pirun import procfs
from pirun.errors import BackendError
from pirun.model import SessionSpec
from pirun.protocols import SessionBackend
from pirun.runtime import Runtime

# Turns on bracketed paste like an agent's TUI does, says READY, and records the raw
# bytes it receives up to the Enter that follows a paste.
BRACKETED_READER = """
import os, sys, tty
tty.setraw(0)
os.write(1, b"\\x1b[?2004hREADY")
data = b""
while not data.endswith(b"\\x1b[201~\\r"):
    data += os.read(0, 4096)
tmp = sys.argv[1] + ".tmp"
with open(tmp, "wb") as f:
    f.write(data)
os.replace(tmp, sys.argv[1])
"""

#: The shared poll, with its default deadline: generous, so load cannot fail a test.
wait_for = wait_until


def pwned(*dirs: Path) -> list[Path]:
    return [p for d in dirs for p in d.rglob("PWNED*")]


def spec(name: str, *argv: str, cwd: Path, env: dict[str, str] | None = None) -> SessionSpec:
    return SessionSpec(name=name, argv=argv, cwd=cwd, env=env or {})


def sleeper(name: str, cwd: Path) -> SessionSpec:
    return spec(name, "sh", "-c", "sleep 30", cwd=cwd)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


# -- both backends ----------------------------------------------------------------


def test_backend_is_the_configured_one(runtime: Runtime, backend: SessionBackend) -> None:
    assert isinstance(backend, SessionBackend)
    assert backend.name == runtime.config.backend


def test_session_outlives_the_process_that_started_it(
    runtime: Runtime, backend: SessionBackend, work: Path
) -> None:
    # `pirun run` exits right after starting the session.
    script = (
        "import sys; from pathlib import Path\n"
        "from pirun.runtime import Runtime\n"
        "from pirun.model import SessionSpec\n"
        "rt = Runtime.load(Path(sys.argv[1]))\n"
        "rt.backend.start(SessionSpec('pi-issue-1', ('sh', '-c', 'sleep 30'), Path(sys.argv[2])))\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(runtime.config.root), str(work)],
        check=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip

    assert backend.exists("pi-issue-1")
    assert backend.list("pi") == ["pi-issue-1"]


# -- tmux ---------------------------------------------------------------------------


def test_tmux_backend_uses_the_configured_private_socket(
    tmux_runtime: Runtime, tmux_socket: str, work: Path
) -> None:
    backend = tmux_runtime.backend
    backend.start(sleeper("pi-issue-1", work))

    listed = subprocess.run(
        ["tmux", "-L", tmux_socket, "list-sessions", "-F", "#{session_name}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert listed.stdout.split() == ["pi-issue-1"]


def test_tmux_send_text_pastes_literally_without_executing_anything(
    tmux_runtime: Runtime, work: Path, tmp_path: Path
) -> None:
    backend = tmux_runtime.backend
    out = tmp_path / "pasted"
    backend.start(spec("pi-issue-1", "sh", "-c", 'exec cat > "$1"', "sh", str(out), cwd=work))
    text = (
        "echo $(touch PWNED1) `touch PWNED2`; touch PWNED3 \"double\" 'single'\n"
        "second line \\n #{session_name} #(touch PWNED4) C-c Enter\n"
        "third line"
    )

    backend.send_text("pi-issue-1", text)

    assert wait_for(lambda: out.exists() and out.read_text() == text + "\n")
    assert pwned(tmp_path) == []
    assert backend.exists("pi-issue-1")


def test_tmux_send_text_drops_control_characters(
    tmux_runtime: Runtime, work: Path, tmp_path: Path
) -> None:
    # ESC [201~ would end a bracketed paste early; Ctrl-C would interrupt the agent.
    backend = tmux_runtime.backend
    out = tmp_path / "pasted"
    backend.start(spec("pi-issue-1", "sh", "-c", 'exec cat > "$1"', "sh", str(out), cwd=work))

    backend.send_text("pi-issue-1", "before\x1b[201~\x03\x04\x7fafter\tend\r\nnext")

    assert wait_for(lambda: out.exists() and out.read_text() == "before[201~after\tend\nnext\n")
    assert backend.exists("pi-issue-1")


def test_tmux_send_text_is_a_bracketed_paste_when_the_program_asks_for_one(
    tmux_runtime: Runtime, tmux_socket: str, work: Path, tmp_path: Path
) -> None:
    backend = tmux_runtime.backend
    out = tmp_path / "raw"
    backend.start(spec("pi-issue-1", sys.executable, "-c", BRACKETED_READER, str(out), cwd=work))

    def screen() -> str:
        return subprocess.run(
            ["tmux", "-L", tmux_socket, "capture-pane", "-p", "-t", "=pi-issue-1:"],
            capture_output=True, text=True,
        ).stdout  # fmt: skip

    # tmux handles pane output in order: once READY shows, paste mode is on.
    wait_for(lambda: "READY" in screen())

    backend.send_text("pi-issue-1", "first\nsecond \x1b[201~ tail")

    raw = wait_for(lambda: out.exists() and out.read_bytes())
    assert raw == b"\x1b[200~first\rsecond [201~ tail\x1b[201~\r"


def test_tmux_send_text_to_a_missing_session_fails(tmux_runtime: Runtime, work: Path) -> None:
    backend = tmux_runtime.backend
    backend.start(sleeper("pi-issue-10", work))

    with pytest.raises(BackendError, match="no session named pi-issue-1"):
        backend.send_text("pi-issue-1", "hello")


def test_tmux_attach_outside_a_terminal_is_refused(tmux_runtime: Runtime, work: Path) -> None:
    backend = tmux_runtime.backend
    backend.start(sleeper("pi-issue-1", work))

    with pytest.raises(BackendError, match="cannot attach: not a terminal"):
        backend.attach("pi-issue-1")


def test_tmux_attach_replaces_this_process_with_tmux_attach_on_the_socket(
    tmux_runtime: Runtime, tmux_socket: str, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = tmux_runtime.backend
    backend.start(sleeper("pi-issue-1", work))
    calls = []

    class Execed(Exception):
        pass

    def fake_exec(file: str, argv: list[str], env: dict[str, str]) -> None:
        calls.append(argv)
        raise Execed

    monkeypatch.setattr(os, "isatty", lambda fd: True)
    monkeypatch.setattr(os, "execvpe", fake_exec)
    with pytest.raises(Execed):
        backend.attach("pi-issue-1")

    assert calls[0][1:] == ["-L", tmux_socket, "attach-session", "-t", "=pi-issue-1"]


def test_tmux_attach_to_a_missing_session_fails(tmux_runtime: Runtime) -> None:
    with pytest.raises(BackendError, match="no session named pi-issue-1"):
        tmux_runtime.backend.attach("pi-issue-1")


def test_tmux_sessions_survive_a_user_config_that_destroys_detached_sessions(
    repo: Any, tmux_socket: str, work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".tmux.conf").write_text(
        "set -g remain-on-exit on\nset -g destroy-unattached on\nset -s exit-unattached on\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    repo.write_config(backend="tmux", tmux={"socket_name": tmux_socket})
    backend = Runtime.load(repo.path).backend

    backend.start(sleeper("pi-issue-1", work))
    backend.start(spec("pi-issue-2", "sh", "-c", "exit 0", cwd=work))

    # Every tmux client that disconnects makes tmux apply destroy-unattached.
    wait_for(lambda: not backend.exists("pi-issue-2"))  # remain-on-exit overridden
    for _ in range(3):
        assert backend.list("pi") == ["pi-issue-1"]
    assert backend.exists("pi-issue-1")


def test_missing_tmux_is_reported_with_a_way_out(
    tmux_runtime: Runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A PATH without tmux, for this check only: the fixtures' teardown needs tmux.
    with monkeypatch.context() as patch, pytest.raises(
        BackendError, match="tmux is not installed; install it or set backend"
    ):
        patch.setenv("PATH", str(tmp_path))
        _ = tmux_runtime.backend


# -- process ------------------------------------------------------------------------


def record_path(runtime: Runtime, name: str) -> Path:
    return runtime.config.run_dir / "sessions" / f"{name}.json"


def test_process_session_is_recorded_with_pid_and_start_time_in_its_own_session(
    process_runtime: Runtime, process_backend: Any, work: Path
) -> None:
    process_backend.start(sleeper("pi-issue-1", work))

    record = json.loads(record_path(process_runtime, "pi-issue-1").read_text())
    stat = procfs.read_stat(record["pid"])
    assert stat is not None
    assert record["name"] == "pi-issue-1"
    assert record["start_time"] == stat.start_time
    assert os.getsid(record["pid"]) == record["pid"]  # leads a new session
    assert stat.pgid == record["pid"]


def test_process_record_whose_pid_now_belongs_to_another_process_is_not_the_session(
    process_runtime: Runtime, process_backend: Any
) -> None:
    # Our own pid stands in for a pid the kernel has given to a stranger.
    me = procfs.read_stat(os.getpid())
    assert me is not None
    path = record_path(process_runtime, "pi-issue-1")
    path.parent.mkdir(parents=True)
    fake = {"name": "pi-issue-1", "pid": os.getpid(), "start_time": me.start_time + 1}
    path.write_text(json.dumps(fake))

    assert not process_backend.exists("pi-issue-1")
    process_backend.kill("pi-issue-1")  # must not signal the stranger (us)

    assert not path.exists()
    path.write_text(json.dumps(fake))
    assert process_backend.list("pi") == []
    assert not path.exists()  # dead records are removed when seen


def test_process_record_that_is_not_json_is_not_a_session(
    process_runtime: Runtime, process_backend: Any
) -> None:
    path = record_path(process_runtime, "pi-issue-1")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")

    assert not process_backend.exists("pi-issue-1")
    assert process_backend.list("pi") == []
    assert not path.exists()


def test_process_exited_session_is_reaped_not_left_a_zombie(
    process_runtime: Runtime, process_backend: Any, work: Path
) -> None:
    process_backend.start(spec("pi-issue-1", sys.executable, "-c", "pass", cwd=work))
    record = json.loads(record_path(process_runtime, "pi-issue-1").read_text())
    proc = procfs.ProcId(record["pid"], record["start_time"])

    wait_for(lambda: not process_backend.exists("pi-issue-1"))

    stat = procfs.read_stat(proc.pid)
    assert stat is None or stat.id != proc


def test_process_zombie_started_by_another_backend_instance_is_reaped(
    repo: Any, process_runtime: Runtime, process_backend: Any, work: Path
) -> None:
    process_backend.start(spec("pi-issue-1", sys.executable, "-c", "pass", cwd=work))
    pid = json.loads(record_path(process_runtime, "pi-issue-1").read_text())["pid"]
    other = Runtime.load(repo.path).backend
    # Let it exit and become a zombie of this process, without polling it.
    wait_for(lambda: (stat := procfs.read_stat(pid)) is not None and stat.dead)

    assert not other.exists("pi-issue-1")

    assert procfs.read_stat(pid) is None


def test_process_backend_has_no_terminal_for_attach_or_send_text(
    process_backend: Any, work: Path
) -> None:
    process_backend.start(sleeper("pi-issue-1", work))

    with pytest.raises(BackendError, match=r"no terminal to attach to; use `pirun logs -f N`"):
        process_backend.attach("pi-issue-1")
    with pytest.raises(BackendError, match="needs the tmux backend"):
        process_backend.send_text("pi-issue-1", "hello")


def test_process_command_starts_only_once_its_session_is_recorded(
    process_runtime: Runtime, process_backend: Any, work: Path, tmp_path: Path
) -> None:
    record = record_path(process_runtime, "pi-issue-1")
    out = tmp_path / "saw-record"
    check = 'if [ -e "$1" ]; then echo yes > "$2"; else echo no > "$2"; fi'

    process_backend.start(spec("pi-issue-1", "sh", "-c", check, "sh", str(record), str(out),
                               cwd=work))

    assert wait_for(lambda: out.exists() and out.read_text()) == "yes\n"


# Starts a session whose command would create the file argv[3], and is SIGKILLed
# (after printing the session's pid and start time) just before writing its record.
STARTER_KILLED_BEFORE_RECORD = """
import os, signal, sys
from pathlib import Path
import pirun_process
from pirun.model import SessionSpec
from pirun.runtime import Runtime

def write(self, record):
    print(record.pid, record.start_time, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

pirun_process.ProcessBackend._write = write
backend = Runtime.load(Path(sys.argv[1])).backend
backend.start(SessionSpec("pi-issue-1", ("touch", sys.argv[3]), Path(sys.argv[2])))
"""


def test_process_session_whose_starter_is_killed_before_recording_it_never_runs(
    process_runtime: Runtime, process_backend: Any, work: Path, tmp_path: Path
) -> None:
    ran = tmp_path / "ran"

    starter = subprocess.run(
        [sys.executable, "-c", STARTER_KILLED_BEFORE_RECORD, str(process_runtime.config.root),
         str(work), str(ran)],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip

    assert starter.returncode == -9, starter.stderr
    pid, start_time = map(int, starter.stdout.split())
    # The session's process did exist; it ends on its own, without running `touch`.
    wait_for(lambda: not procfs.is_alive(procfs.ProcId(pid, start_time)))
    assert not ran.exists()
    assert not process_backend.exists("pi-issue-1")
    assert process_backend.list("pi") == []


def test_process_session_that_cannot_be_recorded_never_runs_and_is_not_left_behind(
    process_backend: Any, work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = tmp_path / "ran"
    started: list[int] = []

    def full_disk(record: Any) -> None:
        started.append(record.pid)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(process_backend, "_write", full_disk)

    with pytest.raises(BackendError, match=r"cannot record session pi-issue-1: .*No space left"):
        process_backend.start(spec("pi-issue-1", "touch", str(ran), cwd=work))

    assert procfs.read_stat(started[0]) is None  # gone and reaped
    assert not ran.exists()


def test_process_missing_program_is_reported_at_start_even_behind_the_gate(
    process_backend: Any, work: Path
) -> None:
    (work / "not-executable").write_text("#!/bin/sh\n")

    with pytest.raises(BackendError, match=r"cannot start \./not-executable: no such executable"):
        process_backend.start(spec("pi-issue-1", "./not-executable", cwd=work))
    with pytest.raises(BackendError, match="cannot start no/such/dir/prog: no such executable"):
        process_backend.start(spec("pi-issue-1", "no/such/dir/prog", cwd=work))
    assert process_backend.list("pi") == []
