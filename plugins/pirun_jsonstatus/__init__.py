"""Status records as JSON files: `<worktree.dir>/.status/<name>.json`.

`<name>` is the issue key's safe name (`pirun.keys.key_name`): `42.json` for issue 42,
as the seed wrote it, `PROJ-1.json` for a Jira key, `o_2fr_237.json` for `o/r#7`.

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

from pirun.api import (
    Config,
    Register,
    StatusRecord,
    StatusStoreError,
    file_lock,
    hookimpl,
    key_from_name,
    key_name,
    os_error_reason,
    sort_key,
    write_text,
)


class JsonStatusStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, issue: str) -> Path:
        # `<N>.json` for a number, as the seed's tools wrote and read it.
        return self.directory / f"{key_name(issue)}.json"

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

    def get(self, issue: str) -> StatusRecord | None:
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
        self, issue: str, change: Callable[[StatusRecord | None], StatusRecord | None]
    ) -> StatusRecord | None:
        with self._writable(), file_lock(self.directory / f".{key_name(issue)}.lock"):
            new = change(self.get(issue))
            if new is not None:
                self.put(new)
            return new

    def list(self) -> list[StatusRecord]:
        records: list[StatusRecord] = []
        if not self.directory.is_dir():
            return records
        for path in self.directory.glob("*.json"):
            key = key_from_name(path.stem)
            if key is not None:
                record = self.get(key)
                # Any name is some key's now (`abc.json`): only a file holding the
                # record of the issue it is named after is one, not a copy or a stray.
                if record is not None and record.issue == key:
                    records.append(record)
        return sorted(records, key=lambda record: sort_key(record.issue))

    def delete(self, issue: str) -> None:
        for path in (self._path(issue), self.directory / f".{key_name(issue)}.lock"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


@hookimpl
def pirun_register_stores(register: Register) -> None:
    register("json", json_store)


def json_store(config: Config) -> JsonStatusStore:
    return JsonStatusStore(config.status_dir)
