"""`pirun batch`: fetch the issues, resolve blockers, plan layers, run the scheduler."""

from __future__ import annotations

from dataclasses import dataclass

from pirun.blockers import blockers_of
from pirun.errors import LockBusy, UsageError
from pirun.graph import Plan, plan
from pirun.keys import display_key
from pirun.log import get_logger
from pirun.model import Blocker, Issue
from pirun.runtime import Runtime
from pirun.scheduler import BatchOptions, Item, ItemState, Scheduler

log = get_logger()


@dataclass(frozen=True)
class BatchPlan:
    plan: Plan
    issues: dict[str, Issue]
    #: Blockers of each issue that are not part of the batch (open ones block it).
    outside: dict[str, list[Blocker]]

    def layer_lines(self) -> list[str]:
        return [
            f"Layer {k}: " + ", ".join(display_key(key) for key in layer)
            for k, layer in enumerate(self.plan.layers)
        ]


def make_plan(rt: Runtime, keys: list[str]) -> BatchPlan:
    """Plan the batch of `keys` (already in the tracker's spelling)."""
    if not keys:
        raise UsageError("no issues given")
    wanted = list(dict.fromkeys(keys))
    issues = rt.fetch_issues(wanted)
    for key in wanted:
        if key not in issues:
            rt.fetch_issue(key)  # raises IssueNotFound with the standard message
    blockers = blockers_of(rt, [issues[key] for key in wanted])
    # A closed blocker never constrains the order, inside the batch or out of it; one
    # closed as not planned does (its dependents wait for it or are skipped).
    edges = {key: [b.key for b in blockers.get(key, []) if b.state.blocks] for key in wanted}
    batch_plan = plan(wanted, edges)
    log.info("batch planned", issues=len(wanted), layers=len(batch_plan.layers),
             edges=sum(len(blocked) for blocked in edges.values()))
    outside = {
        key: [b for b in blockers.get(key, []) if b.key not in issues] for key in wanted
    }
    return BatchPlan(batch_plan, issues, {key: bs for key, bs in outside.items() if bs})


def make_scheduler(rt: Runtime, batch: BatchPlan, options: BatchOptions) -> Scheduler:
    return Scheduler(rt, batch.plan, batch.issues, batch.outside, options)


def run_batch(rt: Runtime, scheduler: Scheduler) -> tuple[list[Item], bool]:
    """Run the batch; returns every item and whether Ctrl-C cut it short.

    One batch per repository at a time: the lock is an flock, so a batch killed
    with -9 releases it and the next run resumes.
    """
    try:
        with rt.lock("batch", timeout=0):
            try:
                return scheduler.run(), False
            except KeyboardInterrupt:
                return list(scheduler.items.values()), True
    except LockBusy:
        raise LockBusy(
            "another `pirun batch` is running in this repository; wait for it or stop it"
        ) from None


def mark_changes(rt: Runtime, items: list[Item]) -> None:
    """Note, for each complete issue, whether its agent left anything behind."""
    for item in items:
        if item.state is not ItemState.COMPLETE:
            continue
        workspace = rt.workspaces.find(item.key)
        if workspace is not None:
            item.changes = rt.pm.hook.pirun_workspace_changes(
                config=rt.config, workspace=workspace
            )


def finish_batch(rt: Runtime, items: list[Item]) -> None:
    """Tell plugins the batch is over (`pirun_batch_finished`), with every issue's
    final record; issues that never started have none."""
    records = [record for item in items if (record := rt.store.get(item.key))]
    rt.pm.hook.pirun_batch_finished(config=rt.config, results=records)
