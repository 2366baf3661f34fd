"""The dashboard screen: rows from the status store and sessions, keys, redraws.

Redraws on status-file events (and once a second for ages and last output), and
takes single keys: up/down or j/k select, `a` attach, `n` nudge, `s` stop, `q` quit.
Attaching shows the agent's session in this terminal; how to come back depends on
where the dashboard runs (`attach_and_return`).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from dataclasses import dataclass

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from pirun.api import (
    Column,
    PirunError,
    Runtime,
    StatusEvents,
    conflicts_line,
    display_key,
    fitted_table,
    human_age,
    last_log_line,
    load_conflicts,
    reconcile,
    sort_key,
    stop_issue,
)

STYLES = {
    "running": "cyan", "waiting": "magenta", "complete": "green", "error": "red",
    "unknown": "dim",
}
HELP = "↑/↓ select  a attach  n nudge  s stop  q quit"


@dataclass(frozen=True)
class Row:
    issue: str
    session: str
    title: str
    state: str
    age: str
    alive: bool
    last_line: str


def collect_rows(rt: Runtime) -> list[Row]:
    config = rt.config
    live = set(rt.backend.list(config.prefix))
    records = {record.issue: record for record in rt.store.list()}
    issues = set(records) | {
        n for n in (rt.issue_of_session(name) for name in live) if n is not None
    }
    conflicts = load_conflicts(config)
    rows = []
    for key in sorted(issues, key=sort_key):
        record = records.get(key)
        session = config.session_name(key)
        rows.append(Row(
            issue=key,
            session=session,
            title=(record.title or "") if record else "",
            state=record.shown_status if record else "unknown",
            age=human_age(record.age_seconds()) if record else "",
            alive=session in live,
            # A clash with a sibling is worth more than the agent's last words.
            last_line=conflicts_line(conflicts, key) or last_log_line(config.log_path(key)),
        ))
    return rows


COLUMNS = (
    Column("Issue", justify="right"),
    Column("Title", give_way=1, min_width=12),
    Column("State"),
    Column("Age", justify="right"),
    Column("Session", give_way=2, min_width=8),
    Column("Last output", give_way=3, min_width=16),
)


def render(rows: list[Row], selected: int, message: str, width: int) -> Group:
    """The screen: issue, state and age always whole; title, session and last output
    cut or dropped (last output first) to fit `width`."""
    cells: list[list[str | Text]] = [
        [display_key(row.issue), Text(row.title),
         # The style goes by the status: `waiting (sign-in required)` is a waiting.
         Text(row.state, style=STYLES.get(row.state.split(" ")[0], "")),
         row.age, row.session if row.alive else "-", Text(row.last_line)]
        for row in rows
    ]
    styles = ["reverse" if index == selected else None for index in range(len(rows))]
    table = fitted_table(COLUMNS, cells, width, row_styles=styles)
    footer = Text(message or HELP, style="dim" if not message else "bold", no_wrap=True,
                  overflow="ellipsis")
    return Group(Text(f"pirun dashboard: {len(rows)} issues", style="bold"), table, footer)


@contextlib.contextmanager
def cbreak(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def read_key(fd: int, wakeup: int, timeout: float) -> str | None:
    """A key press, or None when a status change (`wakeup`) or the timeout came first."""
    ready, _, _ = select.select([fd, wakeup], [], [], timeout)
    if wakeup in ready:
        os.read(wakeup, 4096)
    if fd not in ready:
        return None
    data = os.read(fd, 16).decode("utf-8", "replace")
    return {"\x1b[A": "up", "\x1b[B": "down", "k": "up", "j": "down"}.get(data, data)


def attach_and_return(rt: Runtime, session: str) -> str | None:
    """Attach in a child, so that leaving the session comes back to the dashboard.

    With tmux (see `TmuxBackend.attach`): outside tmux, or inside another tmux server
    than the agents', the child becomes a tmux client in this terminal, and detaching
    it ends the child; inside the agents' own server, the user's client is switched to
    the session (tmux's last-session key, prefix L, switches back) and the child ends
    at once. Returns why attaching failed, or None: the child's error would otherwise
    be lost behind the redrawn screen.
    """
    # Non-inheritable: a child that execs a tmux client closes its end at once.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_end)
            rt.backend.attach(session)
        except Exception as exc:  # any failure is reported to the parent, never raised
            code = 1
            with contextlib.suppress(OSError):
                os.write(write_end, (str(exc) or type(exc).__name__).encode()[:4096])
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as errors:
        failure = errors.read().decode("utf-8", "replace").strip()
    os.waitpid(pid, 0)
    return failure or None


def prompt_line(console: Console, label: str) -> str:
    console.show_cursor(True)
    try:
        return console.input(label)
    finally:
        console.show_cursor(False)


def run_dashboard(rt: Runtime) -> None:
    if not sys.stdin.isatty():
        raise PirunError("the dashboard needs a terminal")
    console = Console()
    events = StatusEvents(rt.config.status_dir, interval=1.0)
    wakeup, notify = os.pipe()
    done = threading.Event()

    def forward_events() -> None:
        # Status writes wake the screen at once; the 1 s timeout keeps ages fresh.
        while not done.is_set():
            events.wait()
            with contextlib.suppress(OSError):
                os.write(notify, b"x")

    threading.Thread(target=forward_events, daemon=True).start()
    fd = sys.stdin.fileno()
    selected, message = 0, ""
    try:
        with cbreak(fd), Live(console=console, screen=True, auto_refresh=False) as live:
            while True:
                reconcile(rt)
                rows = collect_rows(rt)
                selected = max(0, min(selected, len(rows) - 1))
                live.update(render(rows, selected, message, console.width), refresh=True)
                key = read_key(fd, wakeup, timeout=1.0)
                if key is None:
                    continue
                message = ""
                row = rows[selected] if rows else None
                if key == "q":
                    return
                if key == "up":
                    selected -= 1
                elif key == "down":
                    selected += 1
                elif row is not None and key == "s":
                    stop_issue(rt, row.issue)
                    message = f"stopped {display_key(row.issue)}"
                elif row is not None and key in ("a", "n") and not row.alive:
                    message = f"{display_key(row.issue)} has no live session"
                elif row is not None and key == "a":
                    live.stop()
                    failure = attach_and_return(rt, row.session)
                    live.start()
                    if failure:
                        message = f"cannot attach to {display_key(row.issue)}: {failure}"
                elif row is not None and key == "n":
                    live.stop()
                    with _cooked(fd):
                        text = prompt_line(console, f"nudge {display_key(row.issue)}> ")
                    if text:
                        rt.backend.send_text(row.session, text)
                        message = f"sent to {display_key(row.issue)}"
                    live.start()
    finally:
        done.set()
        events.close()
        os.close(wakeup)
        os.close(notify)


@contextlib.contextmanager
def _cooked(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    cooked = termios.tcgetattr(fd)
    cooked[3] |= termios.ICANON | termios.ECHO
    termios.tcsetattr(fd, termios.TCSADRAIN, cooked)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
