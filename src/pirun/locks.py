"""Inter-process locks on files: `flock`, released by the kernel with the holder."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: How often a lock with a timeout is tried again while another process holds it.
POLL_SECONDS = 0.05


class LockTimeout(Exception):
    """The lock was still held by another process when the timeout ran out."""


@contextmanager
def file_lock(path: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (created if missing): waiting as long
    as another process holds it, or raising LockTimeout after `timeout` seconds.

    A killed holder releases it with its file descriptor, so a stale lock file
    cannot block anyone. The file stays; removing it would let two processes lock
    two different files of one name.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout(str(path)) from None
                    time.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)
