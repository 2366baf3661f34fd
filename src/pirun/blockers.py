"""Who blocks whom: the tracker's own relations plus every `pirun_collect_blockers` source."""

from __future__ import annotations

from pirun.errors import IssueNotFound
from pirun.model import Blocker, Issue, IssueRef, IssueState
from pirun.runtime import Runtime


def _describe_unknown(rt: Runtime, refs: set[IssueRef]) -> dict[IssueRef, Blocker]:
    """Fetch blockers known only by reference; one that cannot be found counts as
    open, since starting work on top of an unknown state is the worse mistake."""
    try:
        fetched = rt.fetch_issues(sorted(refs))
    except IssueNotFound:
        fetched = {}
        for ref in sorted(refs):
            try:
                fetched.update(rt.fetch_issues([ref]))
            except IssueNotFound:
                continue
    return {
        ref: fetched[ref].as_blocker() if ref in fetched else Blocker(ref, "", IssueState.OPEN)
        for ref in refs
    }


def blockers_of(rt: Runtime, issues: list[Issue]) -> dict[IssueRef, list[Blocker]]:
    """Every issue's blockers with title and state, from all sources merged."""
    known: dict[IssueRef, Blocker] = {issue.ref: issue.as_blocker() for issue in issues}
    edges: dict[IssueRef, dict[IssueRef, Blocker | None]] = {
        issue.ref: {rt.local_ref(b.ref): b for b in issue.blocked_by} for issue in issues
    }
    for extra in rt.pm.hook.pirun_collect_blockers(config=rt.config, issues=issues):
        for ref, blocker_refs in (extra or {}).items():
            for blocker_ref in blocker_refs:
                edges.setdefault(rt.local_ref(ref), {}).setdefault(rt.local_ref(blocker_ref), None)
    unknown = {
        ref
        for blockers in edges.values()
        for ref, blocker in blockers.items()
        if blocker is None and ref not in known
    }
    if unknown:
        known.update(_describe_unknown(rt, unknown))
    return {
        ref: [
            known.get(blocker_ref)
            or (blocker and Blocker(blocker_ref, blocker.title, blocker.state))
            or Blocker(blocker_ref)
            for blocker_ref, blocker in blockers.items()
        ]
        for ref, blockers in edges.items()
    }


def open_blockers(rt: Runtime, issue: Issue) -> list[Blocker]:
    return [b for b in blockers_of(rt, [issue]).get(issue.ref, []) if b.state is IssueState.OPEN]
