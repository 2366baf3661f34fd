"""Turning records into text for people and JSON for programs."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from pirun.keys import display_key

if TYPE_CHECKING:
    from rich.console import Console

    from pirun.model import StatusRecord

    stdout: Console
    stderr: Console


def __getattr__(name: str) -> Any:
    """`stdout` and `stderr`, the rich consoles everything prints through, made on
    first use: rich costs more to import than `pirun status --json` takes to run."""
    if name not in ("stdout", "stderr"):
        raise AttributeError(f"module 'pirun.render' has no attribute {name!r}")
    from rich.console import Console

    console = Console(stderr=name == "stderr", highlight=False, soft_wrap=True)
    globals()[name] = console
    return console


def human_age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def status_line(record: StatusRecord) -> str:
    return f"Issue {display_key(record.issue)}: {record.shown_status}"
