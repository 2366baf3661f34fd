"""Inter-process locks on files (flock through filelock, imported on first use)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path, timeout: float = -1) -> Iterator[None]:
    """Hold the lock file `path` (waiting up to `timeout` seconds; -1 for ever).

    A killed holder releases it with its file descriptor, so a stale lock cannot
    linger. Raises `filelock.Timeout` when the wait runs out.
    """
    import filelock

    with filelock.FileLock(str(path), timeout=timeout):
        yield
