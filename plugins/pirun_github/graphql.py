"""GraphQL documents and the parsing of GitHub's answers into pirun's model.

One query asks for up to 50 issues, possibly from several repositories, through
aliases: `r0: repository(owner: "o", name: "r") { i42: issue(number: 42) {...} }`.
Relation lists with more than one page are continued by a second kind of query
that asks only for the next page of each issue's `blockedBy`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pirun.api import Blocker, IssueState, TrackerError, display_key

from .client import one_line

#: Issues per query, and the first page of each relation list (the issue's numbers:
#: 50 x (50 + 50 + 20) nodes stays far below GitHub's 500,000-node limit).
BATCH_SIZE = 50
PAGE_SIZE = 50
#: Later pages are rarer; ask for GitHub's maximum so there are few of them.
NEXT_PAGE_SIZE = 100

_RELATED_SELECTION = (
    "totalCount pageInfo { hasNextPage endCursor } "
    "nodes { number title state stateReason repository { owner { login } name } }"
)
RELATED_FRAGMENT = f"fragment Related on IssueConnection {{ {_RELATED_SELECTION} }}"
ISSUE_FRAGMENT = (
    "fragment IssueFields on Issue { number title body state stateReason url "
    "labels(first: 20) { nodes { name } } "
    f"blockedBy(first: {PAGE_SIZE}) {{ ...Related }} "
    f"blocking(first: {PAGE_SIZE}) {{ ...Related }} }}"
)

#: The fields whose absence means the server predates issue dependencies.
DEPENDENCY_FIELDS = ("blockedBy", "blocking")
_UNDEFINED_FIELD = re.compile(r"Field '(blockedBy|blocking)' doesn't exist")


class NoDependencyFields(Exception):
    """The server's schema has no `Issue.blockedBy`: use REST instead."""


#: alias of a repository -> (owner/name, {alias of an issue: its number})
Aliases = dict[str, tuple[str, dict[str, int]]]


def _repository(alias: str, repo: str) -> str:
    owner, name = repo.split("/", 1)
    # json.dumps gives a valid GraphQL string literal; repo names are validated anyway.
    return f"  {alias}: repository(owner: {json.dumps(owner)}, name: {json.dumps(name)}) {{"


def issues_query(groups: Mapping[str, Sequence[int]]) -> tuple[str, Aliases]:
    lines = ["query {"]
    aliases: Aliases = {}
    for index, (repo, numbers) in enumerate(groups.items()):
        alias = f"r{index}"
        aliases[alias] = (repo, {f"i{n}": n for n in numbers})
        lines.append(_repository(alias, repo))
        lines += [f"    i{n}: issue(number: {n}) {{ ...IssueFields }}" for n in numbers]
        lines.append("  }")
    lines.append("}")
    return "\n".join([*lines, ISSUE_FRAGMENT, RELATED_FRAGMENT]), aliases


def next_page_query(groups: Mapping[str, Mapping[int, str]]) -> tuple[str, Aliases]:
    """The next page of `blockedBy` for each (repo, number) -> cursor."""
    lines = ["query {"]
    aliases: Aliases = {}
    for index, (repo, cursors) in enumerate(groups.items()):
        alias = f"r{index}"
        aliases[alias] = (repo, {f"i{n}": n for n in cursors})
        lines.append(_repository(alias, repo))
        lines += [
            f"    i{n}: issue(number: {n}) {{ blockedBy(first: {NEXT_PAGE_SIZE}, "
            f"after: {json.dumps(cursor)}) {{ ...Related }} }}"
            for n, cursor in cursors.items()
        ]
        lines.append("  }")
    lines.append("}")
    return "\n".join([*lines, RELATED_FRAGMENT]), aliases


@dataclass
class Problems:
    """What the `errors` of an answer said, sorted by what pirun does about each."""

    missing_issues: set[tuple[str, str]] = field(default_factory=set)
    #: repository alias -> GitHub's message (not found, or not readable with this token)
    missing_repos: dict[str, str] = field(default_factory=dict)


def read_errors(
    body: Mapping[str, Any], aliases: Aliases, what: str, describe: Callable[[str, int], str]
) -> Problems:
    """Sort the `errors` of a GraphQL answer; raise for those that fail the request."""
    problems = Problems()
    errors = body.get("errors") or []
    if not isinstance(errors, list):
        raise TrackerError(f"GitHub returned malformed GraphQL errors while fetching {what}")
    for error in errors:
        if not isinstance(error, dict):
            continue
        message = one_line(error.get("message", "")) or "unknown error"
        extensions = error.get("extensions")
        if not isinstance(extensions, dict):
            extensions = {}
        if (
            extensions.get("code") == "undefinedField"
            and extensions.get("fieldName") in DEPENDENCY_FIELDS
        ) or _UNDEFINED_FIELD.search(message):
            raise NoDependencyFields(message)
        path = error.get("path")
        if not isinstance(path, list):
            path = []
        repo_alias = path[0] if path else None
        if repo_alias not in aliases:
            raise TrackerError(f"GitHub GraphQL error while fetching {what}: {message}")
        repo, issues = aliases[repo_alias]
        if len(path) == 1:
            problems.missing_repos[repo_alias] = message
        elif path[1] in issues and len(path) == 2 and error.get("type") == "NOT_FOUND":
            problems.missing_issues.add((repo_alias, path[1]))
        elif path[1] in issues:
            ref = describe(repo, issues[path[1]])
            raise TrackerError(f"GitHub GraphQL error for issue {ref}: {message}")
        else:
            raise TrackerError(f"GitHub GraphQL error while fetching {what}: {message}")
    return problems


# -- parsing -----------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def require(obj: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TrackerError(f"GitHub returned malformed data for {what}: missing or invalid "
                           f"'{key}'")
    return value


def parse_state(value: Any, what: str, reason: Any = None) -> IssueState:
    """An issue's `state`, with its `stateReason` (REST: `state_reason`): closed as
    not planned is not done."""
    if str(value).lower() not in ("open", "closed"):
        raise TrackerError(
            f"GitHub returned malformed data for {what}: unknown state {one_line(value, 40)!r}"
        )
    if str(value).lower() == "closed" and str(reason).lower() == "not_planned":
        return IssueState.NOT_PLANNED
    return IssueState(str(value).lower())


@dataclass
class Page:
    """One page of a relation list: its issues, and where the next page starts."""

    blockers: list[Blocker]
    next_cursor: str | None


def parse_related(
    connection: Any, relation: str, what: str, key_of: Callable[[str, int], str]
) -> Page:
    """An IssueConnection (`blockedBy` or `blocking`) as blockers, each under the key
    `key_of(owner/name, number)` gives it."""
    where = f"{what} ({relation})"
    nodes = require(connection, "nodes", list, where)
    blockers = []
    for node in nodes:
        if node is None:
            continue  # GitHub nulls nodes the token may not see
        repository = require(node, "repository", dict, where)
        owner = require(require(repository, "owner", dict, where), "login", str, where)
        name = require(repository, "name", str, where)
        number = require(node, "number", int, where)
        blockers.append(
            Blocker(
                key=key_of(f"{owner}/{name}", number),
                title=require(node, "title", str, where),
                state=parse_state(node.get("state"), where, node.get("stateReason")),
            )
        )
    page_info = require(connection, "pageInfo", dict, where)
    has_next = page_info.get("hasNextPage") is True
    cursor = page_info.get("endCursor")
    if has_next and not isinstance(cursor, str):
        raise TrackerError(f"GitHub returned malformed data for {where}: no 'endCursor'")
    return Page(blockers, cursor if has_next else None)


@dataclass
class ParsedIssue:
    key: str
    title: str
    body: str
    state: IssueState
    url: str
    labels: tuple[str, ...]
    blocked_by: list[Blocker]
    next_cursor: str | None
    blocking: list[Blocker]


def parse_issue(
    node: Any, key: str, asked: int, key_of: Callable[[str, int], str]
) -> ParsedIssue:
    """Issue number `asked`, to be known as `key`."""
    what = f"issue {display_key(key)}"
    if not isinstance(node, dict):
        raise TrackerError(f"GitHub returned malformed data for {what}")
    number = require(node, "number", int, what)
    if number != asked:
        raise TrackerError(f"GitHub returned issue #{number} when asked for {what}")
    body = node.get("body")
    labels = node.get("labels") or {}
    label_nodes = labels.get("nodes") if isinstance(labels, dict) else None
    blocked_by = parse_related(node.get("blockedBy"), "blockedBy", what, key_of)
    blocking = parse_related(node.get("blocking"), "blocking", what, key_of)
    return ParsedIssue(
        key=key,
        title=require(node, "title", str, what),
        body=body if isinstance(body, str) else "",
        state=parse_state(node.get("state"), what, node.get("stateReason")),
        url=_text(node.get("url")),
        labels=tuple(
            n["name"] for n in label_nodes or [] if isinstance(n, dict) and
            isinstance(n.get("name"), str)
        ),
        blocked_by=blocked_by.blockers,
        next_cursor=blocked_by.next_cursor,
        blocking=blocking.blockers,
    )


# -- selecting issues (`pirun batch --label ...`) ---------------------------------------

#: GitHub's most results per search page.
SEARCH_PAGE_SIZE = 100


def search_query(text: str, first: int, after: str | None = None) -> str:
    """One page of an issue search: GitHub's search syntax in `text`."""
    cursor = f", after: {json.dumps(after)}" if after else ""
    return (
        f"query {{ search(query: {json.dumps(text)}, type: ISSUE, first: {first}{cursor}) "
        "{ issueCount pageInfo { hasNextPage endCursor } "
        "nodes { ... on Issue { number repository { nameWithOwner } } } } }"
    )


def parse_search(body: Any, what: str) -> tuple[list[tuple[str, int]], str | None]:
    """The issues of one search page as (owner/name, number), and the next page's
    cursor (None on the last page)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        raise TrackerError(
            f"GitHub could not search {what}: {one_line(first.get('message', 'error'), 200)}"
        )
    data = body.get("data") if isinstance(body, dict) else None
    search = require(data, "search", dict, what)
    found = []
    for node in require(search, "nodes", list, what):
        if not isinstance(node, dict) or "number" not in node:
            continue  # a pull request or a node the token may not see
        repository = require(node, "repository", dict, what)
        found.append((require(repository, "nameWithOwner", str, what),
                      require(node, "number", int, what)))
    page_info = require(search, "pageInfo", dict, what)
    cursor = page_info.get("endCursor")
    more = page_info.get("hasNextPage") is True and isinstance(cursor, str)
    return found, cursor if more else None
