"""Plain data passed between the kernel and plugins."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pirun.atomic import write_text
from pirun.keys import display_key, json_key


class JsonFile:
    """For dataclasses handed between processes as JSON files (run specs): written
    through a temporary file and a rename, so a reader never sees half of one."""

    def write(self, path: Path) -> None:
        write_text(path, json.dumps(dataclasses.asdict(self), indent=2))  # type: ignore[call-overload]

    @classmethod
    def read(cls, path: Path) -> Self:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


#: The agent's prompt, written by the kernel into each worktree (git-excluded).
PROMPT_FILE = ".pirun-prompt.md"


class IssueState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    #: Closed without being done (GitHub's "not planned", Jira's "Won't Do"): as a
    #: blocker it blocks still, since the work its dependents build on will not come.
    NOT_PLANNED = "not_planned"

    @property
    def blocks(self) -> bool:
        """Whether a blocker in this state holds its dependents back."""
        return self is not IssueState.CLOSED

    @property
    def shown(self) -> str:
        return "closed as not planned" if self is IssueState.NOT_PLANNED else self.value.upper()


@dataclass(frozen=True)
class Blocker:
    """An issue that blocks another, as the tracker reported it."""

    key: str
    title: str = ""
    state: IssueState = IssueState.OPEN

    def describe(self) -> str:
        return f"{display_key(self.key)}: {self.title} ({self.state.shown})"


@dataclass(frozen=True)
class Selection:
    """Which issues of the backlog a batch takes, as a person says it: every open
    issue with these labels, in this milestone, matching this query (the tracker's
    own language: GitHub search syntax, JQL, the local tracker's `field:value`)."""

    query: str = ""
    labels: tuple[str, ...] = ()
    milestone: str | None = None
    #: At most this many, in the tracker's order.
    limit: int | None = None

    def describe(self) -> str:
        parts = [f"label:{label}" for label in self.labels]
        if self.milestone:
            parts.append(f"milestone:{self.milestone}")
        if self.query:
            parts.append(self.query)
        return " ".join(parts)


@dataclass(frozen=True)
class Issue:
    """One issue as its tracker reported it. `key` is the tracker's name for it
    (see `pirun.keys`); blockers in other projects carry their own keys."""

    key: str
    title: str
    body: str = ""
    state: IssueState = IssueState.OPEN
    url: str = ""
    labels: tuple[str, ...] = ()
    blocked_by: tuple[Blocker, ...] = ()

    def as_blocker(self) -> Blocker:
        return Blocker(self.key, self.title, self.state)


class Status(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETE = "complete"
    ERROR = "error"

    @property
    def is_final(self) -> bool:
        return self in (Status.COMPLETE, Status.ERROR)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StatusRecord:
    """One issue's state, as stored by the status store."""

    issue: str
    status: Status
    session: str
    timestamp: str = field(default_factory=utc_now)
    error_message: str | None = None
    started_at: str | None = None
    #: Identifies one start of the session, so a result from an earlier run of the
    #: same issue (replaced with --force) is never recorded over the new run.
    run_id: str | None = None
    title: str | None = None
    #: PIRUN_PORT of the run: a free TCP port no other running session was given.
    port: int | None = None
    #: Why a `waiting` run waits, when its screen says (`sign-in required`); None at
    #: its input prompt.
    reason: str | None = None
    #: Who decided the status: `marker`, `exit`, `signal`, `timeout`, ... for a final
    #: one; `screen` or `agent-hook` for `waiting`.
    source: str | None = None

    @property
    def shown_status(self) -> str:
        """The status as people read it: `waiting (sign-in required)`."""
        if self.status is Status.WAITING and self.reason:
            return f"{self.status.value} ({self.reason})"
        return self.status.value

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "issue": json_key(self.issue),
            "status": self.status.value,
            "session": self.session,
            "timestamp": self.timestamp,
        }
        if self.status is Status.ERROR:
            data["error_message"] = self.error_message or ""
        if self.started_at:
            data["started_at"] = self.started_at
        if self.run_id:
            data["run_id"] = self.run_id
        if self.title is not None:
            data["title"] = self.title
        if self.port is not None:
            data["port"] = self.port
        if self.status is Status.WAITING and self.reason:
            data["reason"] = self.reason
        if self.source and self.status is not Status.RUNNING:
            data["source"] = self.source
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatusRecord:
        return cls(
            issue=str(data["issue"]),
            status=Status(data["status"]),
            session=str(data.get("session", "")),
            timestamp=str(data.get("timestamp", "")),
            error_message=data.get("error_message"),
            started_at=data.get("started_at"),
            run_id=data.get("run_id"),
            title=data.get("title"),
            port=data.get("port"),
            reason=data.get("reason"),
            source=data.get("source"),
        )

    def age_seconds(self, now: dt.datetime | None = None) -> float:
        stamp = self.started_at or self.timestamp
        try:
            then = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return 0.0
        return ((now or dt.datetime.now(dt.UTC)) - then).total_seconds()


@dataclass(frozen=True)
class Outcome:
    """How a session ended. `source` says who decided: marker, exit, signal, timeout, ..."""

    status: Status
    message: str | None = None
    source: str = ""

    @classmethod
    def complete(cls, source: str) -> Outcome:
        return cls(Status.COMPLETE, None, source)

    @classmethod
    def error(cls, message: str, source: str) -> Outcome:
        return cls(Status.ERROR, message, source)


@dataclass(frozen=True)
class StackedWork:
    """A blocker's work that a dependent's workspace starts from (`worktree.stack`):
    its issue, its branch, and the commit the dependent builds on."""

    issue: str
    branch: str
    commit: str
    #: Filled in by the workspace manager for the prompt: the blocker's commit
    #: subjects since the base, oldest first, and a `git diff --stat` of them.
    subjects: tuple[str, ...] = ()
    diffstat: str = ""


@dataclass(frozen=True)
class Conflict:
    """Two issues' branches that would not merge cleanly, and the files they clash in."""

    first: str
    second: str
    files: tuple[str, ...]

    def other(self, issue: str) -> str:
        return self.second if issue == self.first else self.first

    def describe(self, issue: str) -> str:
        """`conflicts with #12 in src/config.py`, as seen from `issue`."""
        return f"conflicts with {display_key(self.other(issue))} in {shown_files(self.files)}"


def shown_files(files: tuple[str, ...] | list[str], most: int = 3) -> str:
    """`a.py, b.py and 4 more`: a file list that fits in a table cell."""
    listed = ", ".join(files[:most])
    return listed + (f" and {len(files) - most} more" if len(files) > most else "")


@dataclass(frozen=True)
class Workspace:
    """The git worktree an issue's agent works in."""

    issue: str
    path: Path
    branch: str
    #: The blockers' work this workspace's branch started from (`worktree.stack`).
    builds_on: tuple[StackedWork, ...] = ()


@dataclass(frozen=True)
class SessionSpec:
    """What a session backend starts: `argv` runs in `cwd`, with `env` added.

    `argv` never contains issue text: the kernel passes only the exec wrapper and the
    path of a JSON file describing the run.
    """

    name: str
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
