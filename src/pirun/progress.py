"""Showing a batch as it runs: a live table on a terminal, one line per event otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pirun.render import columns, human_age
from pirun.scheduler import Item, ItemState
from pirun.terminal import strip_escapes

STATE_STYLES = {
    ItemState.PENDING: "dim",
    ItemState.RUNNING: "cyan",
    ItemState.COMPLETE: "green",
    ItemState.ERROR: "red",
    ItemState.SKIPPED: "yellow",
}


def last_log_line(path: Path, limit: int = 4096) -> str:
    """The last non-empty line of a log, cleaned of escapes; reads only its tail."""
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
            return clean[:80]
    return ""


def _elapsed(item: Item) -> str:
    elapsed = item.elapsed()
    return human_age(elapsed) if elapsed is not None else ""


def items_table(items: list[Item], log_path: Callable[[int], Path] | None = None) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("Issue", justify="right")
    table.add_column("Title", overflow="ellipsis", max_width=40, no_wrap=True)
    table.add_column("Layer", justify="right")
    table.add_column("State")
    table.add_column("Elapsed", justify="right")
    table.add_column("Last output" if log_path else "Message", overflow="ellipsis", no_wrap=True)
    for item in items:
        detail = item.message
        if log_path is not None and item.state is ItemState.RUNNING:
            detail = last_log_line(log_path(item.number))
        table.add_row(
            f"#{item.number}",
            Text(item.issue.title),
            str(item.layer),
            Text(item.state.value, style=STATE_STYLES[item.state]),
            _elapsed(item),
            Text(detail),
        )
    return table


def plain_items(items: list[Item]) -> list[str]:
    """The summary for pipes and logs: aligned columns, no box drawing, no truncation."""
    rows = [["Issue", "Layer", "State", "Elapsed", "Title / message"]]
    for item in items:
        detail = item.issue.title + (f" - {item.message}" if item.message else "")
        rows.append(
            [f"#{item.number}", str(item.layer), item.state.value, _elapsed(item), detail]
        )
    return columns(rows, indent="")


class LiveProgress:
    """Live table; redraws at most a few times a second whatever the event rate."""

    def __init__(self, console: Console, items: Callable[[], list[Item]],
                 log_path: Callable[[int], Path]) -> None:
        self.items = items
        self.log_path = log_path
        # Transient: the summary printed after the run replaces the live table.
        self.live = Live(console=console, auto_refresh=False, transient=True)
        self._last = 0.0

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(items_table(self.items(), self.log_path), refresh=True)
        self.live.__exit__(None, None, None)

    def __call__(self, item: Item | None) -> None:
        now = time.monotonic()
        if item is None or now - self._last > 0.2:
            self._last = now
            self.live.update(items_table(self.items(), self.log_path), refresh=True)


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
        detail = f" ({item.message})" if item.message else ""
        elapsed = f" after {_elapsed(item)}" if item.state.is_final and item.started else ""
        self.console.print(
            f"[{stamp}] #{item.number} {item.state.value}{elapsed}{detail}",
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
