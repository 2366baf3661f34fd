"""The offline tracker (`tracker: local`): one Markdown file per issue in `.pirun/issues/`.

`.pirun/issues/<N>.md` holds YAML front matter between `---` lines, then the body::

    ---
    title: Add a login page
    state: open            # open (default) or closed
    blocked_by: [3, "#4", "owner/repo#7"]
    labels: [frontend]
    ---
    The body, as Markdown.

The files are data, never code: YAML is read with the safe loader only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pirun.api import (
    Blocker,
    Config,
    Issue,
    IssueNotFound,
    IssueRef,
    IssueState,
    Register,
    TrackerError,
    hookimpl,
    write_text,
)

TRACKER = "local"
ISSUES_DIR = Path(".pirun") / "issues"

# `re.M` anchors only at `\n`, so odd Unicode line separators in a title cannot fake a fence.
_FENCE = re.compile(r"^---[ \t]*\r?$", re.M)
_SAME_REPO = re.compile(r"#?(\d+)")
_OTHER_REPO = re.compile(r"([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)#(\d+)")


@hookimpl
def pirun_register_trackers(register: Register) -> None:
    register(TRACKER, local_tracker)


def local_tracker(config: Config) -> LocalTracker:
    return LocalTracker(config.root, own_repo=config.get("repo") or "")


def issue_path(root: Path, number: int) -> Path:
    return root / ISSUES_DIR / f"{number}.md"


@dataclass(frozen=True)
class _Parsed:
    """One issue file, before its blockers are described."""

    number: int
    title: str
    body: str
    state: IssueState
    labels: tuple[str, ...]
    blocked_by: tuple[IssueRef, ...]


class LocalTracker:
    name = TRACKER

    def __init__(self, root: Path, own_repo: str = "") -> None:
        self.root = root
        self.repo = own_repo
        # Several issues often share blockers; read each file once per fetch.
        self._cache: dict[int, _Parsed | None] = {}

    def fetch(self, refs: list[IssueRef]) -> list[Issue]:
        # Refs to other repositories are not ours to answer; the kernel decides about them.
        self._cache.clear()
        return [self.issue(ref.number) for ref in dict.fromkeys(refs) if not ref.repo]

    def own_repo(self) -> str | None:
        return self.repo or None

    def close(self) -> None:
        self._cache.clear()

    def issue(self, number: int) -> Issue:
        parsed = self._read(number)
        if parsed is None:
            raise IssueNotFound(number)
        return Issue(
            ref=IssueRef("", number),
            title=parsed.title,
            body=parsed.body,
            state=parsed.state,
            labels=parsed.labels,
            blocked_by=tuple(self._describe(ref) for ref in parsed.blocked_by),
        )

    def _describe(self, ref: IssueRef) -> Blocker:
        """A blocker with its title and state when its file is here; an issue we know
        nothing about (another repository, or no file) counts as open."""
        parsed = None if ref.repo else self._read(ref.number)
        if parsed is None:
            return Blocker(ref, "", IssueState.OPEN)
        return Blocker(ref, parsed.title, parsed.state)

    def _read(self, number: int) -> _Parsed | None:
        if number not in self._cache:
            self._cache[number] = self._load(number)
        return self._cache[number]

    def _load(self, number: int) -> _Parsed | None:
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            return None
        path = issue_path(self.root, number)
        where = f"issue #{number} ({ISSUES_DIR.as_posix()}/{number}.md)"
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise TrackerError(f"{where}: cannot read: {exc.strerror or exc}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TrackerError(f"{where}: not valid UTF-8 (byte {exc.start})") from None
        try:
            return self._parse(number, text)
        except ValueError as exc:
            raise TrackerError(f"{where}: {exc}") from None

    def _parse(self, number: int, text: str) -> _Parsed:
        text = text.removeprefix("\ufeff")
        opening = _FENCE.match(text)
        closing = _FENCE.search(text, opening.end()) if opening else None
        if opening is None or closing is None:
            raise ValueError(
                "no front matter: the file must start with a block between '---' lines"
            )
        try:
            front = yaml.safe_load(text[opening.end() : closing.start()])
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            # +1 for the opening fence line, +1 because marks count from zero.
            line = f" (line {mark.line + 2})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ValueError(f"front matter is not valid YAML{line}: {problem}") from None
        if front is None:
            raise ValueError("front matter is empty: it needs at least a title")
        if not isinstance(front, dict):
            raise ValueError("front matter must be a mapping of keys (title, state, ...)")
        # The fence pattern stops before the newline ending its line; drop just that.
        body = text[closing.end() :].removeprefix("\n")
        return _Parsed(
            number=number,
            title=_title(front),
            body=body,
            state=_state(front),
            labels=_labels(front),
            blocked_by=tuple(self._blocker_ref(item) for item in _list(front, "blocked_by")),
        )

    def _blocker_ref(self, item: Any) -> IssueRef:
        if isinstance(item, int) and not isinstance(item, bool) and item > 0:
            return IssueRef("", item)
        if isinstance(item, str):
            same = _SAME_REPO.fullmatch(item.strip())
            if same and int(same[1]) > 0:
                return IssueRef("", int(same[1]))
            other = _OTHER_REPO.fullmatch(item.strip())
            if other and int(other[2]) > 0:
                repo = "" if other[1].lower() == self.repo.lower() else other[1]
                return IssueRef(repo, int(other[2]))
        raise ValueError(
            f"blocked_by entry {item!r} is not an issue number, '#N' or 'owner/repo#N'"
        )


def _title(front: dict[Any, Any]) -> str:
    title = front.get("title")
    if title is None:
        raise ValueError("'title' is missing")
    if not isinstance(title, str):
        raise ValueError(f"'title' must be a string, got {type(title).__name__}")
    if not title.strip():
        raise ValueError("'title' is empty")
    return title


def _state(front: dict[Any, Any]) -> IssueState:
    state = front.get("state")
    if state is None:
        return IssueState.OPEN
    if isinstance(state, str) and state.strip().lower() in {"open", "closed"}:
        return IssueState(state.strip().lower())
    raise ValueError(f"'state' must be open or closed, got {state!r}")


def _list(front: dict[Any, Any], key: str) -> list[Any]:
    value = front.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{key}' must be a list, got {type(value).__name__}")
    return value


def _labels(front: dict[Any, Any]) -> tuple[str, ...]:
    labels = _list(front, "labels")
    for label in labels:
        if not isinstance(label, str):
            raise ValueError(f"'labels' entries must be strings, got {label!r}")
    return tuple(labels)


class _Quoted(str):
    """A string written in YAML's double-quoted style, which escapes everything a plain
    or single-quoted scalar would mangle (NEL, U+2028 and other line breaks, BOM)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Quoted, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, '"')
)


def write_issue(
    root: Path,
    number: int,
    title: str,
    body: str = "",
    state: str = "open",
    blocked_by: Iterable[int | str] = (),
) -> Path:
    """Write `.pirun/issues/<number>.md` (replacing it atomically) and return its path."""
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"issue number must be a positive integer, got {number!r}")
    if state not in {"open", "closed"}:
        raise ValueError(f"state must be open or closed, got {state!r}")
    front = {
        "title": _Quoted(title),
        "state": state,
        "blocked_by": [_Quoted(b) if isinstance(b, str) else b for b in blocked_by],
    }
    text = (
        "---\n"
        + yaml.dump(front, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=float("inf"))
        + "---\n"
        + body
    )
    path = issue_path(root, number)
    write_text(path, text)
    return path
