"""What an agent shows now: its output replayed on a virtual terminal (pyte).

TUIs draw with cursor moves, so the last line of the byte stream is whatever was
drawn last (the right end of a footer, a spinner), not the bottom of the screen.
Everything that reports "what the agent shows" (waiting patterns, the dashboard's
and the batch table's last output, notifications, error messages, `pirun logs
--screen`) reads the rendered screen instead.

Replaying everything as it arrives would cost more than the agent: output is only
collected, and replayed when someone looks (`LiveScreen`: when the agent pauses, or
every few seconds of steady output), from the last full clear of the screen and at
most 64 KiB at a time. pyte is imported then, too.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyte

#: Output replayed at most at one look: a few full redraws of a large terminal, and
#: what pyte (pure Python) replays in well under 0.1 s.
TAIL_LIMIT = 64 * 1024
#: Sequences after which nothing written before shows: erase the whole screen, enter
#: or leave the alternate screen, reset the terminal.
_CLEARS = (b"\x1b[2J", b"\x1b[?1049h", b"\x1b[?1049l", b"\x1b[?47h", b"\x1bc")
#: The size a screen is rendered at when the session's is unknown (pirun's own
#: default for a session without a terminal).
DEFAULT_SIZE = (50, 200)
_SIZE_LINE = re.compile(rb"\s*(\d+)\s+(\d+)\s*")
#: Words of a line that says what went wrong, the clearest first: a note after the
#: error (`Claude Code might not be available in your country`) is passed over.
_PROBLEMS = (
    re.compile(r"(?i)\b(?:error|fail(?:ed|ure)?|unable|cannot|can't|could not|denied|"
               r"invalid|missing|refused|expired|timed out)\b"),
    re.compile(r"(?i)\b(?:not|no|please)\b"),
)


def last_clear(data: bytes) -> int:
    """Where the last full clear in `data` starts, or -1."""
    return max(data.rfind(sequence) for sequence in _CLEARS)


class LiveScreen:
    """An agent's screen, kept current by replaying what it wrote since the last look.

    Output is only collected as it arrives; `render` replays it on a virtual terminal
    that persists between looks, so a TUI that drew its text once and animates a
    logo ever since still shows its text. What follows a full clear starts a new
    terminal; more than TAIL_LIMIT between two looks (a flood) starts one too, with
    the last TAIL_LIMIT bytes only.
    """

    def __init__(self, size: tuple[int, int] = DEFAULT_SIZE) -> None:
        self.size = size
        self._pending = bytearray()
        self._fresh = True
        self._terminal: Any = None
        self._stream: Any = None

    def feed(self, data: bytes) -> None:
        cleared = last_clear(data)
        if cleared >= 0:
            self._pending[:] = data[cleared:]
            self._fresh = True
        else:
            self._pending += data
        if len(self._pending) > TAIL_LIMIT:
            del self._pending[: len(self._pending) - TAIL_LIMIT]
            # Start at an escape sequence, not in the middle of one.
            escape = self._pending.find(b"\x1b")
            if escape > 0:
                del self._pending[:escape]
            self._fresh = True

    def resize(self, size: tuple[int, int]) -> None:
        self.size = size
        if self._terminal is not None:
            self._terminal.resize(max(1, size[0]), max(1, size[1]))

    def render(self) -> Screen:
        if self._fresh or self._terminal is None:
            self._terminal, self._stream = _terminal(self.size)
            self._fresh = False
        self._stream.feed(bytes(self._pending))
        self._pending.clear()
        return Screen([line.rstrip() for line in self._terminal.display])


@dataclass(frozen=True)
class Screen:
    """A rendered screen: its lines top to bottom, trailing blanks removed."""

    lines: list[str]

    def bottom_lines(self, count: int) -> list[str]:
        """The last `count` non-empty lines, top to bottom."""
        shown = [line for line in self.lines if line.strip()]
        return shown[-count:] if count > 0 else []

    def bottom_line(self) -> str:
        lines = self.bottom_lines(1)
        return lines[0].strip() if lines else ""

    def last_words(self, lines: int = 8) -> str:
        """What a program that failed last said about it: the lowest of the bottom
        `lines` lines that reads like a problem (`No API key found`, `Not logged
        in`, `Failed to connect`), else the bottom line. A hint printed after the
        error (`See: .../docs/providers.md`) is passed over that way."""
        bottom = [line.strip() for line in self.bottom_lines(lines)]
        for problem in _PROBLEMS:
            for line in reversed(bottom):
                if problem.search(line):
                    return line
        return bottom[-1] if bottom else ""

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n")


@functools.cache
def _silent_screen() -> type[pyte.Screen]:
    import pyte

    class SilentScreen(pyte.Screen):
        def write_process_input(self, data: str) -> None:
            """Answers to the agent's device queries (cursor position, attributes):
            there is no one to send them to."""

    return SilentScreen


def _terminal(size: tuple[int, int]) -> tuple[pyte.Screen, pyte.ByteStream]:
    """A new virtual terminal of `size` (rows, columns), and the stream feeding it."""
    import pyte

    rows, columns = size
    screen = _silent_screen()(max(1, columns), max(1, rows))
    return screen, pyte.ByteStream(screen)


def render(data: bytes, size: tuple[int, int] = DEFAULT_SIZE) -> Screen:
    """`data` (terminal output, raw bytes) as it shows on a `size` (rows, columns)
    terminal; only what follows the last full clear in `data` counts."""
    screen, stream = _terminal(size)
    cleared = last_clear(data)
    stream.feed(data[cleared:] if cleared >= 0 else data)
    return Screen([line.rstrip() for line in screen.display])


def screen_path(log_path: Path) -> Path:
    """Where the exec wrapper writes the screen its agent last paused on."""
    return log_path.with_suffix(".screen")


def size_path(log_path: Path) -> Path:
    """Where the exec wrapper keeps the size of the session's terminal."""
    return log_path.with_suffix(".size")


def write_size(log_path: Path, size: tuple[int, int]) -> None:
    with contextlib.suppress(OSError):
        size_path(log_path).write_bytes(b"%d %d\n" % size)


def read_size(log_path: Path) -> tuple[int, int]:
    try:
        match = _SIZE_LINE.fullmatch(size_path(log_path).read_bytes())
    except OSError:
        match = None
    return (int(match[1]), int(match[2])) if match else DEFAULT_SIZE


def log_screen(log_path: Path, limit: int = TAIL_LIMIT) -> Screen:
    """The screen a session's log ends on (its last `limit` bytes from the last full
    clear), at the session's terminal size. Empty when there is no log."""
    try:
        with open(log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - limit))
            data = log.read()
    except OSError:
        return Screen([])
    return render(data, read_size(log_path))
