"""Turning a terminal byte stream into clean text lines for outcome detection.

Agents write through a pty: colours, cursor movement, OSC titles and carriage
returns are interleaved with text, and a read may end in the middle of a UTF-8
character or an escape sequence. Lines are only cleaned once complete, so neither
split can hide a marker.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

# CSI (colours, cursor), OSC (titles, hyperlinks; ended by BEL or ST), DCS/PM/APC
# strings, two-byte escapes, and the remaining C0/C1 controls except tab.
_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?
    | \x1b[ -/]*[0-~]
    | \x9b[0-?]*[ -/]*[@-~]
    | [\x00-\x08\x0b-\x1f\x7f-\x9f]
    """,
    re.VERBOSE,
)

#: A line longer than this without a newline is cut, so a flood of output with no
#: line breaks cannot grow memory without bound.
MAX_LINE_CHARS = 64 * 1024

_BREAKS = re.compile(r"\r\n|\r|\n")


def strip_escapes(text: str) -> str:
    return _ESCAPES.sub("", text)


class LineAssembler:
    """Feed raw bytes in, get cleaned complete lines out.

    A carriage return ends a line as a newline does: a progress bar that rewrites
    itself with `\\r` yields each state, and a marker printed after `\\r` is seen.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._after_cr = False

    def feed(self, data: bytes) -> Iterator[str]:
        text = self._decoder.decode(data)
        if self._after_cr and text.startswith("\n"):
            text = text[1:]  # the `\n` of a `\r\n` split between two reads
        if text:
            self._after_cr = text.endswith("\r")
        # Only the new text is split (the pending part holds no line break), so a
        # long line arriving in small reads costs linear time, not quadratic.
        parts = _BREAKS.split(text)
        parts[0] = self._pending + parts[0]
        self._pending = parts.pop()
        for part in parts:
            yield strip_escapes(part)
        while len(self._pending) > MAX_LINE_CHARS:
            yield strip_escapes(self._pending[:MAX_LINE_CHARS])
            self._pending = self._pending[MAX_LINE_CHARS:]

    def flush(self) -> Iterator[str]:
        rest = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        if rest:
            yield strip_escapes(rest)
