"""Who blocks whom: the tracker's own relations plus every `pirun_collect_blockers` source."""

from __future__ import annotations

from pirun.errors import IssueNotFound
from pirun.log import get_logger
from pirun.model import Blocker, Issue, IssueState
from pirun.runtime import Runtime

log = get_logger()


def _describe_unknown(rt: Runtime, keys: set[str]) -> dict[str, Blocker]:
    """Fetch blockers known only by key; one that cannot be found counts as
    open, since starting work on top of an unknown state is the worse mistake."""
    try:
        fetched = rt.fetch_issues(sorted(keys))
    except IssueNotFound:
        fetched = {}
        for key in sorted(keys):
            try:
                fetched.update(rt.fetch_issues([key]))
            except IssueNotFound:
                continue
    return {
        key: fetched[key].as_blocker() if key in fetched else Blocker(key, "", IssueState.OPEN)
        for key in keys
    }


def _canonical(rt: Runtime, reference: str) -> str | None:
    key = rt.parse_key(reference)
    if key is None:
        log.debug("ignoring a blocker reference the tracker does not know", reference=reference)
    return key


def blockers_of(rt: Runtime, issues: list[Issue]) -> dict[str, list[Blocker]]:
    """Every issue's blockers with title and state, from all sources merged.

    References are put in the tracker's spelling first (`owner/name#12` of the
    tracker's own repository is `12`), so one issue named two ways is one blocker.
    """
    known: dict[str, Blocker] = {issue.key: issue.as_blocker() for issue in issues}
    edges: dict[str, dict[str, Blocker | None]] = {issue.key: {} for issue in issues}
    for issue in issues:
        for blocker in issue.blocked_by:
            # The tracker's own blockers count even in a spelling it would not parse.
            key = rt.parse_key(blocker.key) or blocker.key
            edges[issue.key][key] = blocker
    for extra in rt.pm.hook.pirun_collect_blockers(config=rt.config, issues=issues):
        for reference, blocker_references in (extra or {}).items():
            blocked = _canonical(rt, reference)
            if blocked is None:
                continue
            for blocker_reference in blocker_references:
                found = _canonical(rt, blocker_reference)
                # A body that names its own issue ("see #5" in #5) is no cycle.
                if found is not None and found != blocked:
                    edges.setdefault(blocked, {}).setdefault(found, None)
    unknown = {
        key
        for blockers in edges.values()
        for key, blocker in blockers.items()
        if blocker is None and key not in known
    }
    if unknown:
        known.update(_describe_unknown(rt, unknown))
    return {
        key: [
            known.get(blocker_key)
            or (blocker and Blocker(blocker_key, blocker.title, blocker.state))
            or Blocker(blocker_key)
            for blocker_key, blocker in blockers.items()
        ]
        for key, blockers in edges.items()
    }


def open_blockers(rt: Runtime, issue: Issue) -> list[Blocker]:
    """The blockers that hold `issue` back: open ones, and ones closed as not planned."""
    return [b for b in blockers_of(rt, [issue]).get(issue.key, []) if b.state.blocks]
