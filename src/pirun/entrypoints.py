"""The installed `pirun` entry points, read once and kept until something changes.

Finding entry points means importing `importlib.metadata` and reading the metadata
of every installed distribution: ~40 ms, more than the rest of `pirun status` takes.
The answer is kept in the user's cache directory, valid while the interpreter and
the modification times of the directories on `sys.path` stay the same (installing,
upgrading or removing a package adds or removes a `*.dist-info` directory in one of
them). `PIRUN_CACHE_DIR` moves the cache; when it cannot be written, pirun reads the
metadata every time.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pirun.atomic import write_text

#: Directories modified less than this long ago are not trusted to stay as stamped.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class EntryPoint:
    name: str
    #: `module` or `module:attribute`, as the distribution declares it.
    value: str
    dist: str
    version: str

    def load(self) -> Any:
        module, _, attribute = self.value.partition(":")
        loaded: Any = importlib.import_module(module.strip())
        for part in filter(None, attribute.strip().split(".")):
            loaded = getattr(loaded, part)
        return loaded


def _search_path() -> list[str]:
    # sys.path[0] is the script's directory or, under `python -m`, the current one:
    # it changes from run to run and never holds installed distributions.
    return [entry for entry in sys.path[1:] if entry]


def _stamp(paths: list[str]) -> list[list[Any]]:
    stamp: list[list[Any]] = []
    for entry in paths:
        with contextlib.suppress(OSError):
            stamp.append([entry, os.stat(entry).st_mtime_ns])
    return stamp


def _cache_file(group: str, paths: list[str]) -> Path:
    base = os.environ.get("PIRUN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pirun"
    )
    # crc32, not a cryptographic hash: hashlib loads OpenSSL (3 MiB, ~2 ms) in every
    # command, and a collision only makes two environments rescan, since the stamp
    # in the file is checked before it is used.
    key = zlib.crc32("\0".join([sys.executable, group, *paths]).encode())
    return Path(base) / f"entry-points-{key:08x}.json"


def _scan(group: str) -> list[EntryPoint]:
    import importlib.metadata

    found = []
    for dist in importlib.metadata.distributions():
        for entry in dist.entry_points:
            if entry.group == group:
                found.append(EntryPoint(entry.name, entry.value, dist.metadata["Name"],
                                        dist.version))
    return found


def installed_entry_points(group: str) -> list[EntryPoint]:
    """Every entry point of `group`, in the order `importlib.metadata` finds them."""
    paths = _search_path()
    stamp = _stamp(paths)
    cache = _cache_file(group, paths)
    try:
        data = json.loads(cache.read_bytes())
        if data["stamp"] == stamp:
            return [EntryPoint(**entry) for entry in data["entry_points"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = _scan(group)
    if any(mtime > time.time_ns() - RACY_NS for _, mtime in stamp):
        # A directory changed within the clock's granularity of now could change
        # again unseen (git's "racy" entries): read the metadata until it settles.
        return found
    with contextlib.suppress(OSError):
        write_text(cache, json.dumps(
            {"stamp": stamp, "entry_points": [asdict(entry) for entry in found]}
        ))
    return found
