"""Early conflict warnings: which branches of a batch would not merge with each other.

The batch checks its running and finished branches every `worktree.conflict_check`
seconds (through the workspace manager, which touches no worktree) and keeps what
it found in `<run dir>/conflicts.json`, so `pirun status` and the dashboard, which
run in other processes, show the same warnings as the batch table.
"""

from __future__ import annotations

import json
from pathlib import Path

from pirun.atomic import write_text
from pirun.config import Config
from pirun.keys import json_key
from pirun.model import Conflict


def conflicts_path(config: Config) -> Path:
    return config.run_dir / "conflicts.json"


def save_conflicts(config: Config, conflicts: list[Conflict]) -> None:
    rows = [
        {"issues": [json_key(c.first), json_key(c.second)], "files": list(c.files)}
        for c in conflicts
    ]
    write_text(conflicts_path(config), json.dumps(rows, indent=2))


def load_conflicts(config: Config) -> list[Conflict]:
    """What the last check found; nothing when no batch has checked (or the file is
    unreadable: a warning is never worth an error)."""
    try:
        rows = json.loads(conflicts_path(config).read_text(encoding="utf-8"))
        return [
            Conflict(str(row["issues"][0]), str(row["issues"][1]), tuple(row["files"]))
            for row in rows
        ]
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        return []


def conflicts_of(conflicts: list[Conflict], issue: str) -> list[Conflict]:
    return [c for c in conflicts if issue in (c.first, c.second)]


def conflicts_line(conflicts: list[Conflict], issue: str) -> str:
    """`conflicts with #12 in a.py; conflicts with #14 in b.py`: one table cell."""
    return "; ".join(c.describe(issue) for c in conflicts_of(conflicts, issue))


def conflicts_json(conflicts: list[Conflict], issue: str) -> list[dict[str, object]]:
    """`[{"issue": 12, "files": [...]}]`: the other side of each of `issue`'s conflicts."""
    return [
        {"issue": json_key(c.other(issue)), "files": list(c.files)}
        for c in conflicts_of(conflicts, issue)
    ]
