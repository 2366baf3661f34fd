"""Issue keys and the names derived from them.

A key is the tracker's own name for an issue, as a string: `42` (GitHub and the
local tracker, this repository), `other/repo#7` (GitHub, another repository),
`PROJ-123` (Jira). The tracker says which texts are its keys (`Tracker.parse_key`).

Sessions, branches, worktrees, logs and status files need a name that no shell,
tmux target or file system gives a meaning to. `key_name` derives it:

- ASCII letters and digits stay as they are;
- `-` stays when both its neighbours are ASCII letters or digits;
- every other character becomes `_xx` for each byte of its UTF-8 encoding
  (lowercase hex), `_` itself included.

So `42` -> `42`, `PROJ-123` -> `PROJ-123`, `other/repo#7` -> `other_2frepo_237`.
The rule is reversible (`key_from_name`) and collision-free: `_` appears in a name
only to start an escape. A name never starts or ends with `-` and never holds
`--`, which is what lets a branch `issue-<name>--<slug>` be split back.
"""

from __future__ import annotations

import re

from pirun.errors import UsageError

__all__ = [
    "MAX_NAME",
    "display_key",
    "is_number",
    "json_key",
    "key_from_name",
    "key_name",
    "sort_key",
]

#: Longest derived name: session names add a prefix and stay under 200 characters.
MAX_NAME = 100

_TOKEN = re.compile(r"_([0-9a-f]{2})|[^_]")
_NAME = re.compile(r"(?:[A-Za-z0-9]|_[0-9a-f]{2}|(?<=[A-Za-z0-9])-(?=[A-Za-z0-9]))+")
_DIGITS = re.compile(r"(\d+)")


def _plain(char: str) -> bool:
    return char.isascii() and char.isalnum()


def key_name(key: str) -> str:
    """The file-, session- and branch-safe name of `key` (see the module docstring).

    Raises UsageError for an empty key or one whose name would pass MAX_NAME.
    """
    if not key:
        raise UsageError("empty issue key")
    parts: list[str] = []
    last = len(key) - 1
    for i, char in enumerate(key):
        if _plain(char) or (
            char == "-" and 0 < i < last and _plain(key[i - 1]) and _plain(key[i + 1])
        ):
            parts.append(char)
        else:
            parts.extend(f"_{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
    name = "".join(parts)
    if len(name) > MAX_NAME:
        raise UsageError(f"issue key too long for a session name: {key[:40]!r}...")
    return name


def key_from_name(name: str) -> str | None:
    """The key `name` was derived from, or None when `name` is not such a name."""
    if len(name) > MAX_NAME or not _NAME.fullmatch(name):
        return None
    data = bytearray()
    for token in _TOKEN.finditer(name):
        data += bytes([int(token[1], 16)]) if token[1] else token[0].encode("ascii")
    try:
        key = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # "_2d-a" matches the pattern but no key gives it: only exact round trips count.
    return key if key_name(key) == name else None


def is_number(key: str) -> bool:
    """True for an issue number: ASCII digits, no leading zero (`007` is some
    tracker's name, not issue 7, so it cannot share 7's files)."""
    return key.isascii() and key.isdigit() and (key[0] != "0" or key == "0")


def display_key(key: str) -> str:
    """How people see a key: `#42` for a number, the key itself otherwise."""
    return f"#{key}" if is_number(key) else key


def sort_key(key: str) -> tuple[list[str | int], str]:
    """Natural order: `2` before `10`, `PROJ-9` before `PROJ-10`, numbers first."""
    # re.split with a group alternates text and digits, always starting with text,
    # so two lists compare str with str and int with int position by position.
    pieces: list[str | int] = [
        int(piece) if i % 2 else piece.lower() for i, piece in enumerate(_DIGITS.split(key))
    ]
    return pieces, key


def json_key(key: str) -> str | int:
    """A key as pirun writes it into JSON: a number stays a JSON number (the seed's
    `.status/<N>.json` holds `"issue": 42`, and scripts read it so), anything else
    a string."""
    return int(key) if is_number(key) else key
