"""One watcher for every session of a repository: status-file events, polling fallback.

The exec wrapper in each session writes the status record the moment it sees a
result, so watching the status directory is enough to learn of every finish. File
notifications wake the watcher within milliseconds; the `interval` timeout is only
the fallback that notices sessions which vanished without writing anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import structlog
import watchfiles

log = structlog.get_logger()


class StatusEvents:
    """`wait()` returns when a status record changed, or after `interval` seconds."""

    def __init__(self, directory: Path, interval: float) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.interval = interval
        self._stop = threading.Event()
        self._events: Iterator[set[tuple[watchfiles.Change, str]]] | None
        try:
            self._events = watchfiles.watch(
                directory,
                stop_event=self._stop,
                rust_timeout=max(1, int(interval * 1000)),
                yield_on_timeout=True,
                debounce=10,
                step=5,
                raise_interrupt=True,
            )
        except OSError as exc:  # pragma: no cover - platforms without notifications
            log.warning("file notifications unavailable; polling", error=str(exc))
            self._events = None

    def wait(self) -> None:
        if self._events is None:
            time.sleep(self.interval)
            return
        try:
            next(self._events)
        except (OSError, RuntimeError) as exc:
            log.warning("file notifications failed; polling", error=str(exc))
            self._events = None
            time.sleep(self.interval)

    def close(self) -> None:
        self._stop.set()
