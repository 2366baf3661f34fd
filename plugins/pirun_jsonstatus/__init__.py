"""Status records as JSON files: `<worktree.dir>/.status/<N>.json`.

Each write goes to a temporary file in the same directory and is renamed over the
record, so a reader sees the old record or the new one, never a torn file. Updates
(read, change, write) hold a per-issue flock, which the kernel releases when a
holder dies, so a killed pirun never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import filelock

from pirun.api import (
    Config,
    Register,
    StatusRecord,
    StatusStoreError,
    hookimpl,
    os_error_reason,
    write_text,
)


class JsonStatusStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, issue: int) -> Path:
        return self.directory / f"{issue}.json"

    @contextlib.contextmanager
    def _writable(self) -> Iterator[None]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            yield
        except OSError as exc:
            reason = os_error_reason(exc)
            raise StatusStoreError(
                f"cannot write status records in {self.directory}: {reason}"
            ) from None

    def get(self, issue: int) -> StatusRecord | None:
        path = self._path(issue)
        try:
            return StatusRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StatusStoreError(f"status record {path} is unreadable: {exc}") from None

    def put(self, record: StatusRecord) -> None:
        with self._writable():
            text = json.dumps(record.to_dict(), indent=2) + "\n"
            write_text(self._path(record.issue), text, durable=True)

    def update(
        self, issue: int, change: Callable[[StatusRecord | None], StatusRecord | None]
    ) -> StatusRecord | None:
        with self._writable(), filelock.FileLock(str(self.directory / f".{issue}.lock")):
            new = change(self.get(issue))
            if new is not None:
                self.put(new)
            return new

    def list(self) -> list[StatusRecord]:
        records = []
        if not self.directory.is_dir():
            return records
        for path in self.directory.glob("*.json"):
            if path.stem.isdigit():
                record = self.get(int(path.stem))
                if record is not None:
                    records.append(record)
        return sorted(records, key=lambda record: record.issue)

    def delete(self, issue: int) -> None:
        for path in (self._path(issue), self.directory / f".{issue}.lock"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


@hookimpl
def pirun_register_stores(register: Register) -> None:
    register("json", json_store)


def json_store(config: Config) -> JsonStatusStore:
    return JsonStatusStore(config.status_dir)
