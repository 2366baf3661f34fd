"""Completion markers: `###TASK_COMPLETE_<key>###` and `###TASK_ERROR_<key>### reason`.

A marker counts only when it starts its line (after blanks and the frame or bullet
characters a TUI draws), outside ``` fences, and when the line is not a line of the
prompt the agent was given. The prompt mentions the markers inside sentences, so an
agent echoing its prompt never finishes the run by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pirun.api import Config, Outcome, hookimpl

# What may stand before a marker on its line: whitespace, box-drawing and bullet
# characters, quote bars. Letters, digits and backticks may not: those mean the
# marker is being talked about, not printed.
_LEAD = r"^[\s\u2500-\u257f\u25a0-\u25ff\u2022\u2023\u2043\u23fa>*+|:-]*"


def complete_marker(issue: str) -> str:
    return f"###TASK_COMPLETE_{issue}###"


def error_marker(issue: str) -> str:
    return f"###TASK_ERROR_{issue}###"


@dataclass
class MarkerDetector:
    issue: str
    prompt_lines: frozenset[str] = frozenset()
    in_fence: bool = False
    _pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(
            _LEAD + rf"###TASK_(COMPLETE|ERROR)_{re.escape(self.issue)}###(?P<rest>.*)$"
        )

    def feed(self, line: str) -> Outcome | None:
        stripped = line.strip()
        if stripped.startswith("```"):
            self.in_fence = not self.in_fence
            return None
        if self.in_fence or stripped in self.prompt_lines:
            return None
        match = self._pattern.match(line)
        if match is None:
            return None
        if match.group(1) == "COMPLETE":
            return Outcome.complete("marker")
        message = match.group("rest").strip(" \t:-") or "agent reported an error"
        return Outcome.error(message, "marker")


@hookimpl
def pirun_make_detectors(config: Config, issue: str, prompt: str) -> list[MarkerDetector]:
    lines = frozenset(
        stripped for stripped in (line.strip() for line in prompt.splitlines()) if stripped
    )
    return [MarkerDetector(issue=issue, prompt_lines=lines)]
