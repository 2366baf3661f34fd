"""One `pirun` invocation: the options every command shares, and its runtime."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pirun.errors import PirunError
from pirun.runtime import Runtime


@dataclass
class Invocation:
    """Options of one `pirun` invocation shared by every command, and the runtime
    built from them on demand."""

    directory: Path = field(default_factory=Path.cwd)
    disabled: list[str] = field(default_factory=list)
    repo: str | None = None
    quiet: bool = False
    runtime_error: PirunError | None = None
    _runtime: Runtime | None = None

    def runtime(self) -> Runtime:
        if self._runtime is None:
            if self.runtime_error is not None:
                raise self.runtime_error
            self._runtime = Runtime.load(self.directory, self.disabled, repo=self.repo)
        return self._runtime
