"""Showing a batch as it runs: a live table on a terminal, one line per event otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pirun.keys import display_key
from pirun.render import human_age
from pirun.scheduler import Item, ItemState
from pirun.screen import Screen, screen_path
from pirun.tables import Column, fitted_table, plain_columns
from pirun.terminal import strip_escapes

STATE_STYLES = {
    ItemState.PENDING: "dim",
    ItemState.RUNNING: "cyan",
    ItemState.COMPLETE: "green",
    ItemState.ERROR: "red",
    ItemState.SKIPPED: "yellow",
}


def last_log_line(path: Path, limit: int = 4096) -> str:
    """What the agent shows last: the bottom line of the screen it last paused on,
    when it has written nothing since (the exec wrapper renders it), else the last
    non-empty line of its log, cleaned of escapes; reads only the log's tail."""
    screen = screen_path(path)
    try:
        if screen.stat().st_mtime_ns >= path.stat().st_mtime_ns:
            shown = Screen(screen.read_text(encoding="utf-8", errors="replace").splitlines())
            return shown.bottom_line()[:200]
    except OSError:
        pass
    try:
        with open(path, "rb") as log:
            log.seek(0, 2)
            size = log.tell()
            log.seek(max(0, size - limit))
            tail = log.read().decode("utf-8", "replace")
    except OSError:
        return ""
    for line in reversed(tail.replace("\r", "\n").split("\n")):
        clean = strip_escapes(line).strip()
        if clean:
            return clean[:200]
    return ""


def _elapsed(item: Item) -> str:
    elapsed = item.elapsed()
    return human_age(elapsed) if elapsed is not None else ""


ITEM_COLUMNS = (
    Column("Issue", justify="right"),
    Column("Title", give_way=1, min_width=12),
    Column("Layer", justify="right"),
    Column("State"),
    Column("Elapsed", justify="right"),
    Column("Message", give_way=2, min_width=16),
)


def items_table(items: list[Item], width: int | None,
                log_path: Callable[[str], Path] | None = None) -> Table:
    """The batch as a table no wider than `width`: issue, layer, state and elapsed
    time whole; title and message (or, while running, the last output) cut to fit."""
    columns = list(ITEM_COLUMNS)
    if log_path is not None:
        columns[-1] = Column("Last output", give_way=2, min_width=16)
    rows: list[list[str | Text]] = []
    for item in items:
        detail = item.detail
        if log_path is not None and item.state is ItemState.RUNNING and not item.conflicts:
            detail = last_log_line(log_path(item.key))
        rows.append([
            display_key(item.key),
            Text(item.issue.title),
            str(item.layer),
            Text(item.shown_state, style=STATE_STYLES[item.state]),
            _elapsed(item),
            Text(detail),
        ])
    return fitted_table(columns, rows, width)


PLAIN_COLUMNS = (
    Column("Issue"), Column("Layer"), Column("State"), Column("Elapsed"),
    Column("Title / message", give_way=1),
)


def plain_items(items: list[Item]) -> list[str]:
    """The summary for pipes and logs: aligned columns, no box drawing, no truncation."""
    rows = [
        [display_key(item.key), str(item.layer), item.shown_state, _elapsed(item),
         item.issue.title + (f" - {item.detail}" if item.detail else "")]
        for item in items
    ]
    return plain_columns(PLAIN_COLUMNS, rows)


class LiveProgress:
    """Live table; redraws at most a few times a second whatever the event rate."""

    def __init__(self, console: Console, items: Callable[[], list[Item]],
                 log_path: Callable[[str], Path]) -> None:
        self.items = items
        self.log_path = log_path
        # Transient: the summary printed after the run replaces the live table.
        self.live = Live(console=console, auto_refresh=False, transient=True)
        self._last = 0.0

    def _table(self) -> Table:
        return items_table(self.items(), self.live.console.width, self.log_path)

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self._table(), refresh=True)
        self.live.__exit__(None, None, None)

    def __call__(self, item: Item | None) -> None:
        now = time.monotonic()
        if item is None or now - self._last > 0.2:
            self._last = now
            self.live.update(self._table(), refresh=True)


class LineProgress:
    """One line per state change, for logs and pipes."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, item: Item | None) -> None:
        if item is None:
            return
        stamp = time.strftime("%H:%M:%S")
        detail = f" ({item.detail})" if item.detail else ""
        elapsed = f" after {_elapsed(item)}" if item.state.is_final and item.started else ""
        self.console.print(
            f"[{stamp}] {display_key(item.key)} {item.state.value}{elapsed}{detail}",
            markup=False, highlight=False,
        )


class NoProgress(LineProgress):
    def __call__(self, item: Item | None) -> None:
        return None


def summary_counts(items: list[Item]) -> dict[str, int]:
    counts = {state.value: 0 for state in ItemState}
    for item in items:
        counts[item.state.value] += 1
    return counts
