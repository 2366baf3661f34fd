"""Blockers written in issue bodies: `Depends on #12`, `Blocked by #12, #13`, ...

Works with any tracker. A line counts when it starts (after quote marks, a list
bullet, a task box or bold markers) with one of `textdeps.patterns`, an optional
colon, then issue references: `#12`, `owner/repo#7`, an issue URL or a project key
such as `PROJ-12`, separated by commas, `&` or `and`. Lines inside ``` or ~~~
fences are examples, not relations. Set `textdeps.enabled: false` to ignore bodies.

References are handed to the kernel as written (`#12` as `12`); the tracker puts
them in its own spelling and drops those that are not its issues, so `PROJ-12`
means nothing to GitHub and `#12` nothing to Jira.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from pirun.api import Config, ConfigError, Issue, Option, hookimpl

DEFAULT_PATTERNS = [r"depends\s+on", r"blocked\s+by"]

# Only at the start of a line: "this is no longer blocked by #5" in prose is not a
# relation, while "- [ ] **Depends on:** #4" in a checklist is.
_LEAD = r"^[ \t]*(?:>[ \t]*)*(?:[-*+][ \t]+)?(?:\[[ xX]\][ \t]+)?(?:\*\*|__)?[ \t]*"
_TAIL = r"(?:\*\*|__)?[ \t]*:?[ \t]*(?:\*\*|__)?[ \t]*"
_NAME = r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"
_REF = re.compile(
    rf"(?:(?P<repo>{_NAME})?#(?P<number>\d+)\b"
    rf"|https?://[^\s/]+/(?P<url_repo>{_NAME})/issues/(?P<url_number>\d+)\b"
    r"|(?P<key>\b[A-Z][A-Z0-9_]*-\d+)\b)"
)
_OTHER = re.compile(rf"({_NAME})#\d+")
_SEPARATOR = re.compile(r"[ \t]*(?:,|&|\band\b)?[ \t]*", re.IGNORECASE)
_FENCE = re.compile(r"^[ \t]*(```|~~~)")


@functools.lru_cache(maxsize=8)
def _phrase(patterns: tuple[str, ...]) -> re.Pattern[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                f"configuration key 'textdeps.patterns': invalid regular expression "
                f"{pattern!r}: {exc}"
            ) from None
    alternatives = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(f"{_LEAD}(?:{alternatives}){_TAIL}", re.IGNORECASE)


def parse_blockers(
    body: str, patterns: tuple[str, ...] = tuple(DEFAULT_PATTERNS), here: str = ""
) -> list[str]:
    """References named by the dependency lines of `body`, in order, without repeats.

    `here` is the repository of the issue whose body this is ("" = the configured
    one): a bare `#12` means issue 12 of that repository, `12` when it is the
    configured one and `owner/name#12` otherwise.
    """
    phrase = _phrase(patterns)
    refs: dict[str, None] = {}
    fence: str | None = None
    for line in body.splitlines():
        marker = _FENCE.match(line)
        if marker:
            if fence is None:
                fence = marker.group(1)
            elif marker.group(1) == fence:
                fence = None
            continue
        if fence is not None:
            continue
        start = phrase.match(line)
        if start is None:
            continue
        pos = start.end()
        while (ref := _REF.match(line, pos)) is not None:
            if ref.group("key"):
                refs[ref.group("key")] = None
            else:
                repo = ref.group("repo") or ref.group("url_repo") or here
                number = int(ref.group("number") or ref.group("url_number"))
                refs[f"{repo}#{number}" if repo else str(number)] = None
            pos = _SEPARATOR.match(line, ref.end()).end()  # type: ignore[union-attr]
    return list(refs)


@hookimpl
def pirun_config_options() -> Mapping[str, Any]:
    return {
        "textdeps": {
            "enabled": Option(bool, True, "Read `Depends on #12` lines in issue bodies."),
            "patterns": Option(
                list, list(DEFAULT_PATTERNS),
                "Regular expressions for the phrase before the issue references "
                "(case-insensitive, at the start of a line).",
                items=str,
            ),
        }
    }


@hookimpl
def pirun_collect_blockers(
    config: Config, issues: list[Issue]
) -> Mapping[str, list[str]] | None:
    if not config.get("textdeps.enabled", True):
        return None
    patterns = tuple(config.get("textdeps.patterns", DEFAULT_PATTERNS))
    if not patterns:
        return None
    edges: dict[str, list[str]] = {}
    for issue in issues:
        other = _OTHER.fullmatch(issue.key)
        blockers = [
            ref
            for ref in parse_blockers(issue.body, patterns, other[1] if other else "")
            # The kernel drops self-references too (`owner/this-repo#5` in #5); one
            # spelled like the issue's own key is left out here already.
            if ref != issue.key
        ]
        if blockers:
            edges[issue.key] = blockers
    return edges
