"""REST fallback for servers whose GraphQL schema has no issue dependency fields.

Two requests per issue at least: `GET /repos/{o}/{r}/issues/{n}` and its
`/dependencies/blocked_by` list (100 per page, following the Link header).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pirun.api import Blocker, Issue, TrackerError, display_key

from .graphql import parse_state, require

PER_PAGE = 100

_REPOSITORY_URL = re.compile(r"/repos/([^/]+)/([^/]+?)/?$")


def repository_of(item: Any, what: str) -> str:
    """owner/name of a REST issue object, from its `repository_url`."""
    url = require(item, "repository_url", str, what)
    match = _REPOSITORY_URL.search(url)
    if not match:
        raise TrackerError(f"GitHub returned malformed data for {what}: bad 'repository_url'")
    return f"{match.group(1)}/{match.group(2)}"


def parse_issue(item: Any, key: str, asked: int) -> Issue | None:
    """Issue number `asked`, to be known as `key`; None when the number belongs to a
    pull request."""
    what = f"issue {display_key(key)}"
    if not isinstance(item, dict):
        raise TrackerError(f"GitHub returned malformed data for {what}")
    if "pull_request" in item:
        return None  # every pull request is an issue to REST; not to pirun (nor GraphQL)
    number = require(item, "number", int, what)
    if number != asked:
        raise TrackerError(f"GitHub returned issue #{number} when asked for {what}")
    body = item.get("body")
    labels = item.get("labels") or []
    return Issue(
        key=key,
        title=require(item, "title", str, what),
        body=body if isinstance(body, str) else "",
        state=parse_state(item.get("state"), what, item.get("state_reason")),
        url=html_url if isinstance(html_url := item.get("html_url"), str) else "",
        labels=tuple(
            label["name"] if isinstance(label, dict) else label
            for label in labels if isinstance(label, str) or (
                isinstance(label, dict) and isinstance(label.get("name"), str)
            )
        ),
    )


def parse_blockers(
    items: list[Any], what: str, key_of: Callable[[str, int], str]
) -> list[Blocker]:
    where = f"{what} (blocked_by)"
    blockers = []
    for item in items:
        number = require(item, "number", int, where)
        blockers.append(
            Blocker(
                key=key_of(repository_of(item, where), number),
                title=require(item, "title", str, where),
                state=parse_state(item.get("state"), where, item.get("state_reason")),
            )
        )
    return blockers
