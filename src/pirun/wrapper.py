"""The exec wrapper: runs one agent inside its session and owns the run's result.

`python -m pirun.wrapper RUN_SPEC.json` is the only command a session backend ever
starts; everything about the run (argv, environment, paths) is read from the JSON
file, so no issue text is ever part of a command line.

The agent gets a real pty (agents are TUIs). Every byte it writes goes to the
session's terminal and to the log; complete lines, stripped of escapes, go to the
detectors. The first outcome, or else the exit code, is recorded in the status
store right here, so a run finishes correctly with no pirun command watching.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from pirun.atomic import write_text
from pirun.errors import PirunError
from pirun.log import configure_logging
from pirun.model import JsonFile, Outcome, Status, StatusRecord
from pirun.outcomes import record_outcome
from pirun.protocols import OutcomeDetector
from pirun.runtime import Runtime
from pirun.screen import LiveScreen, Screen, screen_path, write_size
from pirun.sessions import SESSION_VANISHED
from pirun.terminal import LineAssembler, strip_escapes

READ_SIZE = 65536
#: How much recent output is kept to find the agent's last line.
TAIL_BYTES = 2048
#: After this long without output the agent's screen is rendered (once per quiet
#: spell): for the waiting check, the screen file and the hooks.
QUIET_SECONDS = 1.0
#: While output keeps coming (an animated sign-in screen), the screen is rendered
#: at most this often, so a screen that needs a person is still seen.
RENDER_EVERY = 2.0
#: The bottom lines of the screen searched for an input prompt: a TUI's prompt sits
#: above its footer and status lines.
PROMPT_LINES = 4
#: An error message carries at most this much of what the agent last showed.
REASON_CHARS = 200


@dataclass(frozen=True)
class RunSpec(JsonFile):
    repo: str
    issue: str
    session: str
    run_id: str
    argv: list[str]
    cwd: str
    prompt_file: str
    log_file: str
    exit_file: str
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    #: `Runtime.snapshot()` of the launching process: the wrapper restores it rather
    #: than scanning entry points and reading `.pirun.yaml` again (None: it loads).
    runtime: dict[str, Any] | None = None


def events_path(log_file: Path) -> Path:
    """The pipe a session's agent hooks write to (`pirun.agent_event`)."""
    return log_file.with_suffix(".events")


def wrapper_argv(spec_path: Path) -> tuple[str, ...]:
    return (sys.executable, "-m", "pirun.wrapper", str(spec_path))


def _window_size(fd: int) -> bytes:
    try:
        return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return struct.pack("HHHH", 50, 200, 0, 0)


def _exec_agent(spec: RunSpec, events: Path) -> None:
    """In the forked child: become the agent, or report why not and exit 127."""
    try:
        os.chdir(spec.cwd)
        # PIRUN_EVENTS: where the agent's own hooks report (`pirun.agent_event`).
        env = {**os.environ, **spec.env, "PIRUN_EVENTS": str(events)}
        env.setdefault("TERM", "xterm-256color")
        os.execvpe(spec.argv[0], spec.argv, env)
    except OSError as exc:
        os.write(2, f"pirun: cannot start agent {spec.argv[0]!r}: {exc.strerror}\r\n".encode())
    os._exit(127)


def _exit_message(code: int) -> str:
    if code < 0:
        try:
            return f"agent killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"agent killed by signal {-code}"
    return f"agent exited with code {code}"


def _size(packed: bytes) -> tuple[int, int]:
    rows, columns, _, _ = struct.unpack("HHHH", packed)
    return rows, columns


def last_line(tail: bytes) -> str:
    """The last non-empty line of raw terminal output, cleaned (a prompt has no newline)."""
    text = tail.decode("utf-8", "replace")
    for line in reversed(re.split(r"\r\n|\r|\n", text)):
        clean = strip_escapes(line).strip()
        if clean:
            return clean
    return ""


class Wrapper:
    def __init__(self, spec: RunSpec, rt: Runtime, detectors: list[OutcomeDetector],
                 input_prompt: re.Pattern[str] | None = None,
                 attention: list[tuple[re.Pattern[str], str]] | None = None) -> None:
        self.spec = spec
        self.rt = rt
        self.detectors = detectors
        self.lines = LineAssembler()
        self.outcome: Outcome | None = None
        self.child = 0
        self.master = -1
        self.input_prompt = input_prompt
        self.attention = attention or []
        self.idle_seconds = float(rt.config.get("detect.idle_seconds") or 0)
        self.last_output = time.monotonic()
        self.tail = b""
        self.live = LiveScreen()
        self.screen = Screen([])
        self.screen_current = True
        self.rendered_at = time.monotonic()
        #: What the screen last said it needs (a sign-in...), and since when.
        self.needs: str | None = None
        self.needs_since = 0.0
        self.waiting = False
        self.waiting_reason: str | None = None
        #: Waiting because the agent said so (its hook): output does not end that,
        #: only an answer typed into its terminal or the agent saying it goes on.
        self.waiting_sticky = False
        self.events_fd = -1
        self._events_writer = -1
        self._events_partial = b""
        self.hung_up = False

    def _render(self) -> None:
        """What the agent shows now, for the checks below and for other processes
        (`.logs/issue-N.screen`, which the dashboard and the batch table read)."""
        self.screen = self.live.render()
        self.screen_current = True
        self.rendered_at = time.monotonic()
        with contextlib.suppress(OSError):
            write_text(screen_path(Path(self.spec.log_file)), self.screen.text() + "\n")

    def _shown_line(self) -> str:
        return self.screen.bottom_line() or last_line(self.tail)

    def _resize(self, packed: bytes) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, packed)
        self.live.resize(_size(packed))
        write_size(Path(self.spec.log_file), self.live.size)

    def _set_waiting(self, waiting: bool, reason: str | None = None,
                     source: str = "screen") -> None:
        """Flip running <-> waiting for this run only (`reason`: what the screen
        asks for, if it says); fire the hook on entering."""
        want, current = (Status.WAITING, Status.RUNNING) if waiting else (
            Status.RUNNING, Status.WAITING)

        def change(record: StatusRecord | None) -> StatusRecord | None:
            if record is None or record.status is not current:
                return None
            if record.run_id not in (None, self.spec.run_id):
                return None
            return dataclasses.replace(
                record, status=want, reason=reason if waiting else None,
                source=source if waiting else None,
            )

        self.waiting = waiting
        self.waiting_reason = reason if waiting else None
        self.waiting_sticky = waiting and source == "agent-hook"
        record = self.rt.store.update(self.spec.issue, change)
        if record is not None and waiting:
            self.rt.pm.hook.pirun_session_waiting(
                config=self.rt.config, record=record, last_line=self._shown_line()
            )

    def _tick(self) -> None:
        """After each read and each second without one: render the screen when the
        agent pauses (or every RENDER_EVERY seconds of steady output), and decide
        whether the run is waiting for a person."""
        now = time.monotonic()
        quiet = now - self.last_output
        if not self.screen_current and (
            quiet >= QUIET_SECONDS or now - self.rendered_at >= RENDER_EVERY
        ):
            self._render()
            needs = self._attention()
            if needs != self.needs:
                self.needs, self.needs_since = needs, now
        if self.outcome is not None or self.idle_seconds <= 0:
            return
        if self.waiting:
            # A screen that needed a person and shows something else now: going on.
            # (What the agent's own hook said stands until someone answers.)
            if (not self.waiting_sticky and self.waiting_reason is not None
                    and self.needs != self.waiting_reason):
                self._set_waiting(False)
            return
        # A screen that needs a person counts once it has been shown that long, or
        # once the agent has been quiet that long (before its input prompt, which a
        # sign-in or key screen may also show).
        if self.needs is not None and self.idle_seconds <= max(now - self.needs_since, quiet):
            self._set_waiting(True, self.needs)
        elif (
            self.input_prompt is not None
            and quiet >= self.idle_seconds
            and self._prompt_shown(self.input_prompt)
        ):
            self._set_waiting(True)

    def _attention(self) -> str | None:
        """Why the screen needs a person (a sign-in, a folder to trust), if it says."""
        for pattern, reason in self.attention:
            if any(pattern.search(line) for line in self.screen.lines):
                return reason
        return None

    def _prompt_shown(self, pattern: re.Pattern[str]) -> bool:
        # The stream's last line, as before the screen was rendered, or one of the
        # screen's bottom lines: a TUI draws its footer after its prompt.
        lines = [last_line(self.tail), *self.screen.bottom_lines(PROMPT_LINES)]
        return any(pattern.search(line) for line in lines)

    def _decide(self, outcome: Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
            try:
                record_outcome(self.rt, self.spec.issue, outcome, run_id=self.spec.run_id)
            except PirunError as exc:
                # A read-only or full status directory: nobody else knows the result,
                # so say why where the user looks, and keep relaying the agent.
                self._report(f"cannot record the result ({outcome.status.value}): {exc}")

    def _report(self, message: str) -> None:
        line = f"\r\npirun: {message}\r\n".encode()
        with contextlib.suppress(OSError), open(self.spec.log_file, "ab") as log:
            log.write(line)
        with contextlib.suppress(OSError):
            os.write(2, line)

    def _detect(self, lines: list[str]) -> None:
        for line in lines:
            if self.outcome is not None:
                return
            for detector in self.detectors:
                found = detector.feed(line)
                if found is not None:
                    self._decide(found)
                    break

    def _failure(self, code: int) -> str:
        """How the agent ended, in its own words when it left some on the screen
        (`agent exited with code 1: Not logged in · Please run /login`)."""
        words = self.screen.last_words() or last_line(self.tail)
        reason = " ".join(words.split())[:REASON_CHARS]
        return f"{_exit_message(code)}: {reason}" if reason else _exit_message(code)

    def _open_events(self) -> Path:
        """The pipe the agent's hooks write to; held open for writing too, so that
        a hook closing its end is not an end of file here."""
        path = events_path(Path(self.spec.log_file))
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
            os.mkfifo(path, 0o600)
            self.events_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            self._events_writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        return path

    def _read_events(self) -> None:
        try:
            data = os.read(self.events_fd, READ_SIZE)
        except BlockingIOError:
            return
        *lines, self._events_partial = (self._events_partial + data).split(b"\n")
        self._events_partial = self._events_partial[-READ_SIZE:]
        for line in lines:
            with contextlib.suppress(ValueError, AttributeError):
                self._agent_event(json.loads(line))

    def _agent_event(self, event: dict[str, str]) -> None:
        """What an agent's own hook says (`pirun.agent_event`): its turn ended, it
        needs an approval or an answer, or it goes on with a new prompt."""
        if self.outcome is not None:
            return
        name, kind = event.get("event"), event.get("kind")
        if name == "UserPromptSubmit":
            if self.waiting:
                self._set_waiting(False)
            return
        if name == "Notification" and kind == "permission_prompt":
            reason: str | None = "approval needed"
        elif (name == "Notification" and kind == "idle_prompt") or name in (
            "Stop", "agent-turn-complete"
        ):
            reason = None
        else:
            return
        if self.waiting and self.waiting_reason == reason:
            self.waiting_sticky = True
            return
        if self.waiting:
            self._set_waiting(False)
        self._set_waiting(True, reason, source="agent-hook")

    def _close_events(self) -> None:
        for fd in (self.events_fd, self._events_writer):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        with contextlib.suppress(OSError):
            events_path(Path(self.spec.log_file)).unlink(missing_ok=True)

    def _forward_signal(self, signum: int, _frame: FrameType | None) -> None:
        # The agent leads its own session (pty.fork), so signals aimed at the
        # wrapper (tmux kill-session's SIGHUP, `pirun stop`'s SIGTERM) must be passed on.
        if signum == signal.SIGHUP:
            self.hung_up = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.child, signal.SIGHUP if signum == signal.SIGHUP else signal.SIGTERM)

    def run(self) -> int:
        spec = self.spec
        Path(spec.log_file).parent.mkdir(parents=True, exist_ok=True)
        stdin_tty = os.isatty(0)
        size = _window_size(0 if stdin_tty else 1)
        events = self._open_events()
        self.child, self.master = pty.fork()
        if self.child == 0:
            _exec_agent(spec, events)
        self._resize(size)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, self._forward_signal)
        signal.signal(
            signal.SIGWINCH,
            lambda *_: self._resize(_window_size(0)),
        )
        saved = termios.tcgetattr(0) if stdin_tty else None
        if stdin_tty:
            tty.setraw(0)
        try:
            code = self._relay(stdin_tty)
        finally:
            # After a hang-up the terminal is gone: there is nothing left to restore.
            if saved is not None:
                with contextlib.suppress(termios.error, OSError):
                    termios.tcsetattr(0, termios.TCSAFLUSH, saved)
        self._close_events()
        Path(spec.exit_file).write_text(f"{code}\n", encoding="utf-8")
        self._detect(list(self.lines.flush()))
        if not self.screen_current:
            self._render()  # the screen it ended on, for `pirun logs --screen`
        if self.hung_up:
            # The session itself went away (tmux kill-session, server killed): the
            # agent died with it, and that is what the record should say.
            self._decide(Outcome.error(SESSION_VANISHED, "hangup"))
        elif code == 0:
            self._decide(Outcome.complete("exit"))
        else:
            self._decide(Outcome.error(self._failure(code), "exit"))
        return 0

    def _relay(self, stdin_tty: bool) -> int:
        deadline = time.monotonic() + self.spec.timeout if self.spec.timeout else None
        sources = [self.master, 0] if stdin_tty else [self.master]
        if self.events_fd >= 0:
            sources.append(self.events_fd)
        with open(self.spec.log_file, "ab", buffering=0) as log:
            while True:
                # Wake at least once a second: an agent that leaves a background
                # child holding the pty open must still be seen to exit.
                wait = 1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
                try:
                    ready, _, _ = select.select(sources, [], [], wait)
                except InterruptedError:
                    continue
                if not ready:
                    done, status = os.waitpid(self.child, os.WNOHANG)
                    if done:
                        return os.waitstatus_to_exitcode(status)
                    self._tick()
                if not ready and deadline is not None and time.monotonic() >= deadline:
                    self._decide(
                        Outcome.error(f"timed out after {self.spec.timeout:g} s", "timeout")
                    )
                    self._forward_signal(signal.SIGTERM, None)
                    deadline = None
                if 0 in ready:
                    try:
                        data = os.read(0, READ_SIZE)
                    except OSError:  # the session's terminal hung up
                        data = b""
                    if data:
                        os.write(self.master, data)
                        if self.waiting and self.waiting_sticky:
                            self._set_waiting(False)  # someone answered the agent
                    else:
                        sources.remove(0)
                if self.events_fd in ready:
                    self._read_events()
                if self.master in ready:
                    try:
                        data = os.read(self.master, READ_SIZE)
                    except OSError as exc:
                        if exc.errno != errno.EIO:
                            raise
                        data = b""
                    if not data:
                        break
                    log.write(data)
                    with contextlib.suppress(OSError):
                        os.write(1, data)
                    self.last_output = time.monotonic()
                    self.tail = (self.tail + data)[-TAIL_BYTES:]
                    self.live.feed(data)
                    self.screen_current = False
                    if self.waiting and self.waiting_reason is None and not self.waiting_sticky:
                        # Back from its prompt. A screen that needs a person ends
                        # when a render shows it gone, not on output (it may animate).
                        self._set_waiting(False)
                    self._tick()
                    if self.outcome is None:
                        self._detect(list(self.lines.feed(data)))
        _, status = os.waitpid(self.child, 0)
        return os.waitstatus_to_exitcode(status)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m pirun.wrapper RUN_SPEC.json", file=sys.stderr)
        return 3
    spec = RunSpec.read(Path(args[0]))
    # structlog's default prints to stdout, which here is the agent's terminal.
    configure_logging(0, json_output=False)
    try:
        rt = Runtime.restore(spec.runtime) if spec.runtime else Runtime.load(Path(spec.repo))
    except PirunError as exc:
        # Nothing can be recorded without a runtime; say why where the user looks.
        with open(spec.log_file, "a", encoding="utf-8") as log:
            log.write(f"pirun: {exc}\n")
        print(f"pirun: {exc}", file=sys.stderr)
        return 1
    prompt = Path(spec.prompt_file).read_text(encoding="utf-8", errors="replace")
    found = rt.pm.hook.pirun_make_detectors(config=rt.config, issue=spec.issue, prompt=prompt)
    detectors = [detector for batch in found for detector in batch]
    pattern = rt.pm.hook.pirun_input_prompt(config=rt.config)
    try:
        input_prompt = re.compile(pattern) if pattern else None
    except re.error:
        input_prompt = None
    attention = []
    for text, reason in (rt.pm.hook.pirun_attention_screens(config=rt.config) or {}).items():
        with contextlib.suppress(re.error):
            attention.append((re.compile(text), reason))
    return Wrapper(spec, rt, detectors, input_prompt, attention).run()


if __name__ == "__main__":
    raise SystemExit(main())
