"""Writing a file that other processes read while it changes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_text(path: Path, text: str, durable: bool = False) -> None:
    """Replace `path` with `text` through a temporary file and a rename, so a reader
    sees the old content or the new, never half of it; with `durable`, the data is on
    disk before the rename. Each call has its own temporary file (concurrent writers
    of one path do not collide), removed again if anything fails (a full disk)."""
    import tempfile  # on first use: the exec wrapper rarely writes anything

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
