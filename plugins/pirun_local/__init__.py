"""The offline tracker (`tracker: local`): one Markdown file per issue in `.pirun/issues/`.

An issue's key is a number (`42`, typed `42` or `#42`) or a name: two or more runs
of ASCII letters and digits joined by single dashes, starting with a letter
(`PROJ-7`, `login-page`; a lone word such as `abc` is a typo, not a key).
`.pirun/issues/<key>.md` holds YAML front matter between `---` lines, then the body::

    ---
    title: Add a login page
    state: open            # open (default), closed, or not_planned (closed, not done)
    blocked_by: [3, "#4", "login-page", "owner/repo#7"]
    labels: [frontend]
    ---
    The body, as Markdown.

The files are data, never code: YAML is read with the safe loader only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pirun.api import (
    Blocker,
    Config,
    Issue,
    IssueNotFound,
    IssueState,
    Register,
    Selection,
    TrackerError,
    UsageError,
    display_key,
    hookimpl,
    sort_key,
    write_text,
    yaml_error_message,
)

TRACKER = "local"
ISSUES_DIR = Path(".pirun") / "issues"

# `re.M` anchors only at `\n`, so odd Unicode line separators in a title cannot fake a fence.
_FENCE = re.compile(r"^---[ \t]*\r?$", re.M)
_NUMBER = re.compile(r"#?(\d+)")
#: At least one dash: a lone word (`abc`, `x`) is refused as a typo, not looked up.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+")
_OTHER_REPO = re.compile(r"([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)#(\d+)")
#: Longest name key: file names stay short everywhere.
_MAX_NAME = 64


@hookimpl
def pirun_register_trackers(register: Register) -> None:
    register(TRACKER, local_tracker)


def local_tracker(config: Config) -> LocalTracker:
    return LocalTracker(config.root, own_repo=config.get("repo") or "")


def issue_path(root: Path, key: str) -> Path:
    return root / ISSUES_DIR / f"{key}.md"


def _own_key(text: str) -> str | None:
    """`text` as a key of an issue in `.pirun/issues/`, or None."""
    number = _NUMBER.fullmatch(text)
    if number:
        # isascii: \d also matches digits of other scripts ("١" is 1).
        return str(int(number[1])) if number[1].isascii() and int(number[1]) > 0 else None
    if _NAME.fullmatch(text) and text.isascii() and len(text) <= _MAX_NAME:
        return text
    return None


@dataclass(frozen=True)
class _Parsed:
    """One issue file, before its blockers are described."""

    key: str
    title: str
    body: str
    state: IssueState
    labels: tuple[str, ...]
    blocked_by: tuple[str, ...]
    #: Every other front matter key with a plain value (`milestone: v2`), as text,
    #: for `select`.
    fields: tuple[tuple[str, str], ...] = ()


class LocalTracker:
    name = TRACKER

    def __init__(self, root: Path, own_repo: str = "") -> None:
        self.root = root
        self.repo = own_repo
        # Several issues often share blockers; read each file once per fetch.
        self._cache: dict[str, _Parsed | None] = {}

    def parse_key(self, text: str) -> str | None:
        text = text.strip()
        other = _OTHER_REPO.fullmatch(text)
        if other:
            if self.repo and other[1].lower() == self.repo.lower():
                return _own_key(other[2])
            number, parts = other[2], other[1].split("/")
            if not number.isascii() or int(number) < 1 or {".", ".."} & set(parts):
                return None
            # Lower-cased as GitHub's tracker does: owner/name is case-insensitive there,
            # and one issue must have one key.
            return f"{other[1].lower()}#{int(number)}"
        return _own_key(text)

    def fetch(self, keys: list[str]) -> list[Issue]:
        # Keys of other repositories are not ours to answer; the kernel decides about them.
        self._cache.clear()
        return [self.issue(key) for key in dict.fromkeys(keys) if _own_key(key) == key]

    def close(self) -> None:
        self._cache.clear()

    def select(self, selection: Selection) -> list[str]:
        """The issues of `.pirun/issues/` that `selection` describes. Its query is
        words joined by AND: `state:open|closed|not_planned` (default open),
        `label:NAME`, `FIELD:VALUE` for any front matter key (`milestone:v2`,
        `parent:40`), and plain words, each found in the title (any case). Values
        may be quoted: `milestone:"version 2"`."""
        import shlex

        try:
            words = shlex.split(selection.query)
        except ValueError as exc:
            raise UsageError(f"query {selection.query!r}: {exc}") from None
        wanted: list[tuple[str, str]] = [("label", label) for label in selection.labels]
        if selection.milestone:
            wanted.append(("milestone", selection.milestone))
        states = {IssueState.OPEN}
        title_words = []
        for word in words:
            name, colon, value = word.partition(":")
            if not colon:
                title_words.append(word.lower())
            elif name.lower() == "state":
                try:
                    states = {IssueState(value.lower())}
                except ValueError:
                    raise UsageError(
                        f"query {selection.query!r}: state must be open, closed or not_planned"
                    ) from None
            else:
                wanted.append((name.lower(), value))
        self._cache.clear()
        found = []
        directory = self.root / ISSUES_DIR
        keys = sorted((p.stem for p in directory.glob("*.md") if _own_key(p.stem) == p.stem),
                      key=sort_key) if directory.is_dir() else []
        for key in keys:
            parsed = self._read(key)
            if parsed is None or parsed.state not in states:
                continue
            fields = dict(parsed.fields)
            labels = {label.lower() for label in parsed.labels}
            if all(
                value.lower() in labels if name == "label"
                else fields.get(name, "").lower() == value.lower()
                for name, value in wanted
            ) and all(word in parsed.title.lower() for word in title_words):
                found.append(key)
                if selection.limit is not None and len(found) >= selection.limit:
                    break
        return found

    def issue(self, key: str) -> Issue:
        parsed = self._read(key)
        if parsed is None:
            raise IssueNotFound(key)
        return Issue(
            key=key,
            title=parsed.title,
            body=parsed.body,
            state=parsed.state,
            labels=parsed.labels,
            blocked_by=tuple(self._describe(key) for key in parsed.blocked_by),
        )

    def _describe(self, key: str) -> Blocker:
        """A blocker with its title and state when its file is here; an issue we know
        nothing about (another repository, or no file) counts as open."""
        parsed = self._read(key) if _own_key(key) == key else None
        if parsed is None:
            return Blocker(key, "", IssueState.OPEN)
        return Blocker(key, parsed.title, parsed.state)

    def _read(self, key: str) -> _Parsed | None:
        if key not in self._cache:
            self._cache[key] = self._load(key)
        return self._cache[key]

    def _load(self, key: str) -> _Parsed | None:
        if not isinstance(key, str) or _own_key(key) != key:
            return None
        path = issue_path(self.root, key)
        where = f"issue {display_key(key)} ({ISSUES_DIR.as_posix()}/{key}.md)"
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
            return self._parse(key, text)
        except ValueError as exc:
            raise TrackerError(f"{where}: {exc}") from None

    def _parse(self, key: str, text: str) -> _Parsed:
        text = text.removeprefix("\ufeff")
        opening = _FENCE.match(text)
        closing = _FENCE.search(text, opening.end()) if opening else None
        if opening is None or closing is None:
            raise ValueError(
                "no front matter: the file must start with a block between '---' lines"
            )
        import yaml

        try:
            front = yaml.safe_load(text[opening.end() : closing.start()])
        except yaml.YAMLError as exc:
            # The parsed text starts with the end of the opening fence's line, so its
            # lines are numbered as the file's.
            message = yaml_error_message("front matter is not valid YAML", exc)
            raise ValueError(message) from None
        if front is None:
            raise ValueError("front matter is empty: it needs at least a title")
        if not isinstance(front, dict):
            raise ValueError("front matter must be a mapping of keys (title, state, ...)")
        # The fence pattern stops before the newline ending its line; drop just that.
        body = text[closing.end() :].removeprefix("\n")
        return _Parsed(
            key=key,
            title=_title(front),
            body=body,
            state=_state(front),
            labels=_labels(front),
            blocked_by=tuple(self._blocker_key(item) for item in _list(front, "blocked_by")),
            fields=tuple(
                (str(name).lower(), str(value)) for name, value in front.items()
                if isinstance(value, (str, int, float)) and not isinstance(value, bool)
                and name not in ("title", "state")
            ),
        )

    def _blocker_key(self, item: Any) -> str:
        key = None
        if isinstance(item, int) and not isinstance(item, bool):
            key = self.parse_key(str(item))
        elif isinstance(item, str):
            key = self.parse_key(item)
        if key is None:
            raise ValueError(
                f"blocked_by entry {item!r} is not an issue number, '#N', a name like "
                "'PROJ-7' or 'owner/repo#N'"
            )
        return key


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
    if isinstance(state, str) and state.strip().lower() in {"open", "closed", "not_planned"}:
        return IssueState(state.strip().lower())
    raise ValueError(f"'state' must be open, closed or not_planned, got {state!r}")


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


@functools.cache
def _dumper() -> type:
    """YAML's safe dumper, writing `_Quoted` double-quoted (made on first use: PyYAML
    is imported when issues are read or written, not whenever pirun loads)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(
        _Quoted,
        lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, '"'),
    )
    return Dumper


def write_issue(
    root: Path,
    key: int | str,
    title: str,
    body: str = "",
    state: str = "open",
    blocked_by: Iterable[int | str] = (),
) -> Path:
    """Write `.pirun/issues/<key>.md` (replacing it atomically) and return its path."""
    plain = isinstance(key, (int, str)) and not isinstance(key, bool)
    own = _own_key(str(key)) if plain else None
    if own is None or own != str(key):
        raise ValueError(f"issue key must be a positive number or a name like PROJ-7, got {key!r}")
    if state not in {"open", "closed", "not_planned"}:
        raise ValueError(f"state must be open, closed or not_planned, got {state!r}")
    front = {
        "title": _Quoted(title),
        "state": state,
        "blocked_by": [_Quoted(b) if isinstance(b, str) else b for b in blocked_by],
    }
    import yaml

    dumped = yaml.dump(
        front, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=float("inf")
    )
    text = "---\n" + dumped + "---\n" + body
    path = issue_path(root, own)
    write_text(path, text)
    return path
