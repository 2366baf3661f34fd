"""One Jira issue (search JSON) as plain values, with no dependency on pirun.

The state is Jira's *status category*, not the status name, which every site renames:
category `done` is closed, `new` and `indeterminate` (and anything else) are open.
A closed issue whose resolution says the work was not done ("Won't Do", "Duplicate", ...)
is flagged `not_planned`: the tracker reports it as pirun's `IssueState.NOT_PLANNED`, which
still holds its dependents back. (A linked issue's resolution is not in the link, so a
blocker known only from a link is open or closed.)

Blockers come from `issuelinks`: on issue X, a link whose type is the configured one
(default "Blocks") and which carries an `inwardIssue` Y reads "X is blocked by Y"
(Jira: label an inwardIssue with the type's `inward` phrase). An `outwardIssue` is the
other direction, "X blocks Y", and is not a blocker of X.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .adf import adf_to_text

OPEN = "open"
CLOSED = "closed"

#: Fields `issue_from_json` reads; ask the search for exactly these.
FIELDS = ("summary", "status", "resolution", "labels", "issuelinks", "description", "parent")

#: Resolutions meaning "closed without doing it" (Jira Cloud defaults and common additions),
#: compared case-insensitively with typographic apostrophes folded.
NOT_PLANNED_RESOLUTIONS = frozenset({
    "won't do", "won't fix", "declined", "duplicate", "cannot reproduce", "not a bug",
    "obsolete", "rejected", "incomplete",
})

#: Used only when a linked issue's status has no statusCategory (the API's own examples).
_CLOSED_STATUS_NAMES = frozenset({"done", "closed", "resolved", "complete", "completed"})


@dataclass(frozen=True)
class JiraBlocker:
    key: str
    title: str = ""
    state: str = OPEN


@dataclass(frozen=True)
class JiraIssue:
    key: str
    title: str
    body: str = ""
    state: str = OPEN
    not_planned: bool = False
    status: str = ""
    resolution: str = ""
    labels: tuple[str, ...] = ()
    url: str = ""
    blocked_by: tuple[JiraBlocker, ...] = ()
    parent: str | None = None
    id: str = ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def state_of(status: Any) -> str:
    """`closed` for a status in the `done` category, else `open`."""
    status = _dict(status)
    category = _dict(status.get("statusCategory")).get("key")
    if isinstance(category, str) and category:
        return CLOSED if category.lower() == "done" else OPEN
    return CLOSED if _str(status.get("name")).strip().lower() in _CLOSED_STATUS_NAMES else OPEN


def is_not_planned(resolution: Any) -> bool:
    name = _str(_dict(resolution).get("name")).strip().lower().replace("\u2019", "'")
    return name in NOT_PLANNED_RESOLUTIONS


def browse_url(base_url: str, key: str) -> str:
    return f"{base_url.rstrip('/')}/browse/{key}"


def blockers_of(fields: dict[str, Any], link_type: str = "Blocks") -> tuple[JiraBlocker, ...]:
    """Issues that block this one: inward links of type `link_type` (by name, any case)."""
    wanted = link_type.strip().lower()
    found: dict[str, JiraBlocker] = {}
    links = fields.get("issuelinks")
    for link in links if isinstance(links, list) else []:
        link = _dict(link)
        kind = _dict(link.get("type"))
        if _str(kind.get("name")).strip().lower() != wanted:
            continue
        other = _dict(link.get("inwardIssue"))
        key = _str(other.get("key"))
        if not key:
            continue
        other_fields = _dict(other.get("fields"))
        found[key] = JiraBlocker(
            key=key,
            title=_str(other_fields.get("summary")),
            state=state_of(other_fields.get("status")),
        )
    return tuple(found.values())


def issue_from_json(raw: Any, base_url: str, link_type: str = "Blocks") -> JiraIssue | None:
    """`raw` (one element of a search's `issues`) as a JiraIssue; None if it has no key."""
    raw = _dict(raw)
    key = _str(raw.get("key"))
    if not key:
        return None
    fields = _dict(raw.get("fields"))
    status = _dict(fields.get("status"))
    resolution = _dict(fields.get("resolution"))
    state = state_of(status)
    labels = fields.get("labels")
    parent = _str(_dict(fields.get("parent")).get("key")) or None
    return JiraIssue(
        key=key,
        title=_str(fields.get("summary")),
        body=adf_to_text(fields.get("description")),
        state=state,
        not_planned=state == CLOSED and is_not_planned(resolution),
        status=_str(status.get("name")),
        resolution=_str(resolution.get("name")),
        labels=tuple(x for x in labels if isinstance(x, str)) if isinstance(labels, list) else (),
        url=browse_url(base_url, key),
        blocked_by=blockers_of(fields, link_type),
        parent=parent,
        id=_str(raw.get("id")),
    )
