"""One watcher for every session of a repository: status-file events, polling fallback.

The exec wrapper in each session writes the status record the moment it sees a
result, so watching the status directory is enough to learn of every finish. File
notifications wake the watcher within milliseconds; the `interval` timeout is only
the fallback that notices sessions which vanished without writing anything.

The notifications are read on a background thread that only sets a flag, so
`wait()` can take any timeout (a `--timeout` shorter than `interval` is kept to the
moment) and Ctrl-C reaches the main thread at once.
"""

from __future__ import annotations

import threading
from pathlib import Path

import watchfiles

from pirun.errors import StatusStoreError
from pirun.log import get_logger

log = get_logger()


def _is_record(_change: watchfiles.Change, path: str) -> bool:
    # Records are replaced by rename from a hidden temporary file; the per-issue lock
    # files and the temporary files themselves are noise.
    return path.endswith(".json")


class StatusEvents:
    """`wait()` returns when a status record changed, or after `interval` seconds."""

    def __init__(self, directory: Path, interval: float) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StatusStoreError(
                f"cannot watch status records in {directory}: {exc.strerror or exc}"
            ) from None
        self.interval = interval
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, args=(directory,), name="pirun-status-events", daemon=True
        )
        self._thread.start()
        # The notifier is set up right after the thread starts; a record written
        # before that is read by the caller's first look anyway.
        self._started.wait(1.0)

    def _watch(self, directory: Path) -> None:
        self._started.set()
        try:
            for _changes in watchfiles.watch(
                directory,
                watch_filter=_is_record,
                stop_event=self._stop,
                # watchfiles wakes every `step` ms to look for changes: 20 ms keeps
                # the reaction well under 0.1 s at ~1.6 ms of CPU per second idle
                # (5 ms: ~3.4 ms per second; see docs/performance.md).
                debounce=10,
                step=20,
                rust_timeout=0,
                raise_interrupt=False,
            ):
                self._changed.set()
        except Exception as exc:  # platforms or file systems without notifications
            if not self._stop.is_set():
                log.warning("file notifications unavailable; polling", error=str(exc))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a record changes, `timeout` (at most `interval`) seconds pass,
        or the fallback interval is up; True if a change woke it."""
        limit = self.interval if timeout is None else max(0.0, min(timeout, self.interval))
        changed = self._changed.wait(limit)
        # Cleared before the caller reads the records: a change after this point
        # sets the flag again and is seen on the next wait.
        self._changed.clear()
        return changed

    def close(self) -> None:
        self._stop.set()
