"""The tmux session backend itself (`backend: tmux`, the default).

Each session is a detached tmux session running the exec wrapper, which a user can
attach to and watch or steer. Everything goes through libtmux's `Server.cmd`, so
every tmux command is an argv list; still, tmux itself gives meaning to some
argument text, and this module neutralises each case (verified against tmux 3.3a):

* An argument ending in `;` ends the tmux command, and the rest of the command
  line runs as further tmux commands (`run-shell` included). `_arg` escapes it.
* `new-session -c DIR`, `-s NAME` and `load-buffer PATH` are format-expanded:
  `#(cmd)` in them runs a shell command. `_literal` doubles `#`; names are
  restricted to letters, digits, `-` and `_`.
* A shell command given as ONE argument runs as `$SHELL -c ARG`; two or more are
  exec'd directly. A one-element argv is therefore started through a tiny Python
  trampoline rather than handed to the shell.
* `-t NAME` matches a prefix (`pi-issue-1` finds `pi-issue-10`): targets are always
  `=NAME` for session targets and `=NAME:` for window and pane targets. A bare
  `=NAME` given as a window target falls back to some other session (`list-panes
  -t =pi-issue-1` lists pi-issue-10's panes), so the colon matters.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field

from libtmux import exc as tmux_exc
from libtmux.common import has_gte_version, tmux_cmd
from libtmux.server import Server

from pirun.api import BackendError, SessionSpec, check_session_name, procfs
from pirun_tmux import TMUX_MISSING

#: tmux 3.2 added `new-session -e`; before 3.0 several arguments were joined into
#: one shell command line.
MIN_VERSION = "3.2"

#: Seconds `kill` waits for the session's processes to exit after tmux hung up on
#: them, before it SIGKILLs what is left (programs that ignore SIGHUP).
KILL_GRACE = 3.0

#: Runs `sys.argv[1:]` without a shell; used for one-element argvs (see module doc).
_EXEC_TRAMPOLINE = "import os, sys; os.execvp(sys.argv[1], sys.argv[1:])"

#: What a client gets from a server that exits (no sessions left) as it connects.
SERVER_EXITING = "server exited unexpectedly"
#: Tries of `new-session` when it meets such a server.
START_ATTEMPTS = 3

# stderr of a tmux command whose session or server is simply not there.
_GONE_MESSAGES = (
    "can't find session",
    "no such session",
    "no server running",
    "server exited unexpectedly",
    # A server with no sessions left (about to exit) cannot resolve any target.
    "no current target",
)


def _arg(value: str) -> str:
    """`value` as one tmux argument, even if it ends in `;` (tmux turns a trailing
    `\\;` into `;` and keeps it in the argument)."""
    return value[:-1] + "\\;" if value.endswith(";") else value


def _literal(value: str) -> str:
    """`value` for an argument tmux format-expands: `##` expands to `#`."""
    return _arg(value.replace("#", "##"))


def _session(name: str) -> str:
    return f"={name}"


def _pane(name: str) -> str:
    # For commands taking a window or pane target (see the module doc).
    return f"={name}:"


def _error(result: tmux_cmd) -> str:
    return " ".join(str(line) for line in result.stderr).strip() or (
        f"exit status {result.returncode}"
    )


def _gone(result: tmux_cmd) -> bool:
    """True if the command failed only because the session or the server is not there."""
    text = _error(result)
    if any(message in text for message in _GONE_MESSAGES):
        return True
    # The socket file itself is missing: no server was ever started on it.
    return "error connecting to" in text and "No such file or directory" in text


def _program_exists(spec: SessionSpec) -> bool:
    """tmux reports nothing when the program cannot be exec'd (the pane just dies),
    so check first, the way execvp will look for it."""
    program = spec.argv[0]
    if "/" in program:
        path = spec.cwd / program
        return path.is_file() and os.access(path, os.X_OK)
    search = spec.env.get("PATH", os.environ.get("PATH", os.defpath))
    return shutil.which(program, path=search) is not None


@dataclass
class TmuxBackend:
    """Sessions as detached tmux sessions on one tmux server."""

    server: Server
    grace: float = KILL_GRACE
    name: str = field(default="tmux", init=False)
    _version_checked: bool = field(default=False, init=False, repr=False)

    def _run(self, command: str, *args: str) -> tmux_cmd:
        try:
            return self.server.cmd(command, *args)
        except tmux_exc.TmuxCommandNotFound:
            raise BackendError(TMUX_MISSING) from None
        except OSError as exc:
            raise BackendError(f"cannot run tmux: {exc}") from None

    def _socket_args(self) -> list[str]:
        if self.server.socket_path:
            return ["-S", str(self.server.socket_path)]
        if self.server.socket_name:
            return ["-L", self.server.socket_name]
        return []

    def _check_version(self) -> None:
        if self._version_checked:
            return
        try:
            new_enough = has_gte_version(MIN_VERSION, tmux_bin=self.server.tmux_bin)
        except tmux_exc.LibTmuxException as exc:
            raise BackendError(f"cannot tell the tmux version: {exc}") from None
        if not new_enough:
            raise BackendError(f"tmux {MIN_VERSION} or newer is needed")
        self._version_checked = True

    def start(self, spec: SessionSpec) -> None:
        name = spec.name
        check_session_name(name)
        if not spec.argv:
            raise BackendError(f"cannot start session {name}: no command given")
        if not spec.cwd.is_dir():
            # tmux would silently start in the home directory instead.
            raise BackendError(f"cannot start session {name}: no such directory: {spec.cwd}")
        if not _program_exists(spec):
            raise BackendError(f"cannot start {spec.argv[0]}: command not found")
        for key in spec.env:
            if not key or "=" in key:
                raise BackendError(f"invalid environment variable name {key!r}")
        self._check_version()
        argv = list(spec.argv)
        if len(argv) == 1:
            argv = [sys.executable, "-c", _EXEC_TRAMPOLINE, *argv]
        cwd = _literal(os.path.abspath(spec.cwd))
        args = ["-d", "-s", name, "-c", cwd, "-x", "200", "-y", "50"]
        for key, value in spec.env.items():
            args += ["-e", _arg(f"{key}={value}")]
        # `--`: an argv starting with `-` is the command, not more options.
        args += ["--", *(_arg(a) for a in argv)]
        # In the same tmux invocation, so no event (the program exiting, this
        # client disconnecting) is handled before they apply:
        # - remain-on-exit off: the exec wrapper records results; a dead pane kept
        #   around would look like a live session.
        # - destroy-unattached off: tmux checks it whenever any client disconnects,
        #   this one included, and would destroy the detached session at once.
        # - exit-unattached off: the server would exit with no client attached,
        #   taking every detached session with it.
        # Defaults are all off already; a user's tmux.conf may turn them on.
        args += [
            ";", "set-option", "-t", _pane(name), "destroy-unattached", "off",
            ";", "set-option", "-w", "-t", _pane(name), "remain-on-exit", "off",
            ";", "set-option", "-s", "exit-unattached", "off",
        ]  # fmt: skip
        for attempt in range(START_ATTEMPTS):
            try:
                result = self._run("new-session", *args)
            except ValueError as exc:  # a NUL byte in an argument
                raise BackendError(f"cannot start session {name}: {exc}") from None
            if result.returncode == 0:
                return
            message = _error(result)
            # The server was exiting, its last session having just ended, when this
            # command reached it: nothing was created, and the next try starts a
            # new server.
            if SERVER_EXITING not in message or attempt == START_ATTEMPTS - 1:
                break
            time.sleep(0.05 * (attempt + 1))
        if "duplicate session" in message:
            raise BackendError(f"session {name} already exists")
        # A session that did start but could not be configured must not run on
        # unsupervised.
        self._run("kill-session", "-t", _session(name))
        raise BackendError(f"tmux could not start session {name}: {message}")

    def exists(self, name: str) -> bool:
        check_session_name(name)
        result = self._run("has-session", "-t", _session(name))
        if result.returncode == 0:
            return True
        if _gone(result):
            return False
        raise BackendError(f"tmux has-session failed: {_error(result)}")

    def list(self, prefix: str) -> list[str]:
        result = self._run("list-sessions", "-F", "#{session_name}")
        if result.returncode != 0:
            if _gone(result):
                return []
            raise BackendError(f"tmux list-sessions failed: {_error(result)}")
        return sorted(name for name in result.stdout if name and name.startswith(prefix))

    def kill(self, name: str) -> None:
        check_session_name(name)
        panes = self._run("list-panes", "-s", "-t", _pane(name), "-F", "#{pane_pid}")
        if panes.returncode != 0:
            if _gone(panes):
                return
            raise BackendError(f"tmux list-panes failed: {_error(panes)}")
        # Killing the session only hangs up its terminal: whatever ignores SIGHUP, or
        # runs in a session of its own, lives on. Note the whole tree first.
        pids = [int(pid) for pid in panes.stdout if pid.strip().isdigit()]
        tree = procfs.process_tree(pids, groups=pids)
        result = self._run("kill-session", "-t", _session(name))
        if result.returncode != 0 and not _gone(result):
            raise BackendError(f"tmux kill-session failed: {_error(result)}")
        procfs.terminate(tree, self.grace)

    def attach(self, name: str) -> None:
        check_session_name(name)
        if not self.exists(name):
            raise BackendError(f"no session named {name}")
        inside = os.environ.get("TMUX", "")
        if inside and self._is_this_server(inside.split(",")[0]):
            # Already in a client of this server: move that client over.
            result = self._run("switch-client", "-t", _session(name))
            if result.returncode != 0:
                raise BackendError(f"tmux switch-client failed: {_error(result)}")
            return
        if not (os.isatty(0) and os.isatty(1)):
            raise BackendError("cannot attach: not a terminal")
        env = dict(os.environ)
        # Inside another tmux server, tmux refuses to nest unless $TMUX is unset.
        env.pop("TMUX", None)
        binary = self.server.tmux_bin or "tmux"
        argv = [binary, *self._socket_args(), "attach-session", "-t", _session(name)]
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvpe(binary, argv, env)

    def send_text(self, name: str, text: str) -> None:
        """Paste `text` into the session's terminal, then press Enter.

        The text goes through a tmux paste buffer, never through `send-keys`, so no
        part of it is read as a key name. Control characters other than tab and
        newline are dropped: pasted text must not be able to end bracketed paste
        (ESC [201~) or interrupt the program (Ctrl-C).
        """
        check_session_name(name)
        clean = _paste_safe(text)
        buffer = f"pirun-{uuid.uuid4().hex}"
        fd, path = tempfile.mkstemp(prefix="pirun-paste-", suffix=".txt")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(clean.encode("utf-8", "replace"))
            result = self._run(
                "load-buffer", "-b", buffer, _literal(path),
                ";", "paste-buffer", "-d", "-p", "-b", buffer, "-t", _pane(name),
                ";", "send-keys", "-t", _pane(name), "Enter",
            )  # fmt: skip
        finally:
            os.unlink(path)
        if result.returncode == 0:
            return
        self._run("delete-buffer", "-b", buffer)  # left behind when the paste failed
        if _gone(result):
            raise BackendError(f"no session named {name}")
        raise BackendError(f"tmux could not paste into {name}: {_error(result)}")

    def _is_this_server(self, socket: str) -> bool:
        result = self._run("display-message", "-p", "#{socket_path}")
        if result.returncode != 0 or not result.stdout:
            return False
        return _same_file(socket, result.stdout[0])


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _paste_safe(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\t\n" or not _is_control(ch))


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F
