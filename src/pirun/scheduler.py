"""Running a planned batch: start issues as their blockers finish, within the limit.

One loop in one process: it starts what is ready, then sleeps on status-file events
(see `watch`) and reacts. Sessions are never owned by this process: killing it
leaves every agent running and every record consistent, and running the same batch
again picks up where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pirun.conflicts import conflicts_json, conflicts_line, conflicts_of, save_conflicts
from pirun.errors import ConcurrencyLimitReached, PirunError
from pirun.graph import Plan
from pirun.keys import display_key, json_key, sort_key
from pirun.launch import LaunchOptions, launch
from pirun.log import get_logger
from pirun.model import Blocker, Conflict, Issue, Outcome, StackedWork, Status, StatusRecord
from pirun.outcomes import cleaned_record, record_outcome
from pirun.protocols import StackingWorkspaceManager
from pirun.runtime import Runtime
from pirun.sessions import reconcile
from pirun.watch import StatusEvents

log = get_logger()

#: Issues started at the same time by one batch (each in its own thread).
STARTS_AT_ONCE = 4


class ItemState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    ERROR = "error"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self in (ItemState.COMPLETE, ItemState.ERROR, ItemState.SKIPPED)


@dataclass
class Item:
    """One issue of the batch and what happened to it."""

    issue: Issue
    layer: int
    state: ItemState = ItemState.PENDING
    message: str = ""
    started: float | None = None
    finished: float | None = None
    resumed: bool = False
    #: The run this batch watches: its outcome is found even if `pirun cleanup`
    #: removes the record before the batch reads it.
    run_id: str | None = None
    #: For a complete issue, whether the agent left commits or changes (None: not
    #: known), so that a run that did nothing is seen at a glance.
    changes: bool | None = None
    #: For a complete issue with dependents: its branch and commit as it completed,
    #: which those dependents start from (`worktree.stack: branches`).
    tip: StackedWork | None = None
    #: Siblings whose branches would not merge with this one (the last check's view).
    conflicts: list[Conflict] = field(default_factory=list)
    #: Why a pending issue whose blockers are complete does not start yet.
    holding: str = ""

    @property
    def key(self) -> str:
        return self.issue.key

    @property
    def shown_state(self) -> str:
        """The state as the summary shows it: `complete (no changes)` for a run that
        left nothing behind."""
        if self.state is ItemState.COMPLETE and self.changes is False:
            return "complete (no changes)"
        return self.state.value

    @property
    def detail(self) -> str:
        """What the table says beside the state: the message, else why it holds, else
        its conflicts."""
        if self.message:
            return self.message
        if self.holding and self.state is ItemState.PENDING:
            return self.holding
        return conflicts_line(self.conflicts, self.key)

    def elapsed(self, now: float | None = None) -> float | None:
        if self.started is None:
            return None
        return (self.finished or now or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        return {
            "issue": json_key(self.key),
            "title": self.issue.title,
            "layer": self.layer,
            "state": self.state.value,
            "message": self.message or None,
            "started": self.started,
            "finished": self.finished,
            "elapsed": self.elapsed(),
            "resumed": self.resumed,
            "changes": self.changes,
            "builds_on": None if self.tip is None else self.tip.commit,
            "conflicts": conflicts_json(self.conflicts, self.key),
        }


@dataclass(frozen=True)
class BatchOptions:
    max_concurrent: int = 0
    strict_layers: bool = False
    continue_on_error: bool = False
    timeout: float = 3600.0
    interval: float = 5.0
    ignore_blockers: bool = False
    base: str | None = None
    workflow: str | None = None


#: Called after every change with the item that changed (None: a periodic tick).
Observer = Callable[[Item | None], None]


@dataclass
class Scheduler:
    rt: Runtime
    plan: Plan
    issues: dict[str, Issue]
    outside_blockers: dict[str, list[Blocker]]
    options: BatchOptions
    observer: Observer = lambda item: None
    items: dict[str, Item] = field(init=False)
    stopped_by: Item | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.items = {
            key: Item(self.issues[key], layer)
            for layer, keys in enumerate(self.plan.layers)
            for key in keys
        }
        config = self.rt.config
        self.stack_mode: str = config.get("worktree.stack") or "off"
        self.conflict_interval: float = config.get("worktree.conflict_check") or 0
        #: Issues some other issue of the batch waits on: only their tips matter.
        self._blocking = {b for blockers in self.plan.blockers.values() for b in blockers}
        #: Blockers seen landed on the base (`worktree.stack: merged`).
        self._landed: set[str] = set()
        self._last_landing_check = self._last_conflict_check = float("-inf")

    @property
    def _stacking(self) -> StackingWorkspaceManager | None:
        manager = self.rt.workspaces
        return manager if isinstance(manager, StackingWorkspaceManager) else None

    # -- state changes ------------------------------------------------------------------

    def _set(self, item: Item, state: ItemState, message: str = "") -> None:
        item.state = state
        item.message = message
        if state is ItemState.RUNNING:
            item.started = item.started or time.time()
        elif state.is_final and item.started is not None:
            item.finished = time.time()
        if state is ItemState.COMPLETE and item.key in self._blocking:
            self._note_tip(item)
        log.info("issue state", issue=item.key, state=state.value, message=message or None)
        self.observer(item)

    def _note_tip(self, item: Item) -> None:
        if self.stack_mode == "off" or (stacking := self._stacking) is None:
            return
        try:
            item.tip = stacking.tip(item.issue)
        except PirunError as exc:
            log.warning("cannot read the branch of a blocker", issue=item.key, error=str(exc))

    def _fail(self, item: Item, message: str) -> None:
        self._set(item, ItemState.ERROR, message)
        for key in sorted(self.plan.dependents(item.issue.key), key=sort_key):
            dependent = self.items[key]
            if dependent.state is ItemState.PENDING:
                self._set(
                    dependent, ItemState.SKIPPED, f"blocked by {display_key(item.key)} (error)"
                )
        if not self.options.continue_on_error and self.stopped_by is None:
            self.stopped_by = item

    # -- resume and readiness -----------------------------------------------------------------

    def _resume(self) -> None:
        """Adopt what an earlier run of this batch left: complete stays complete,
        a live session is watched again, everything else starts (again)."""
        reconcile(self.rt)
        live = set(self.rt.backend.list(self.rt.config.prefix))
        for item in self.items.values():
            record = self.rt.store.get(item.key)
            if record is None:
                continue
            if record.status is Status.COMPLETE:
                item.resumed = True
                self._set(item, ItemState.COMPLETE, "complete in an earlier run")
            elif not record.status.is_final and record.session in live:
                item.resumed = True
                item.run_id = record.run_id
                item.started = time.time() - record.age_seconds()
                self._set(item, ItemState.RUNNING, "resumed")

    def _skip_outside_blocked(self) -> None:
        if self.options.ignore_blockers:
            return
        for key, blockers in self.outside_blockers.items():
            item = self.items[key]
            holding = [b for b in blockers if b.state.blocks]
            if holding and item.state is ItemState.PENDING:
                names = ", ".join(f"{display_key(b.key)} ({b.state.shown})" for b in holding)
                self._set(item, ItemState.SKIPPED, f"blocked by {names}")
                for dep in sorted(self.plan.dependents(key), key=sort_key):
                    if self.items[dep].state is ItemState.PENDING:
                        self._set(
                            self.items[dep], ItemState.SKIPPED,
                            f"blocked by {display_key(item.key)}",
                        )

    def _ready(self) -> list[Item]:
        if self.stopped_by is not None:
            return []
        pending = [item for item in self.items.values() if item.state is ItemState.PENDING]
        if self.options.strict_layers:
            unfinished = [i.layer for i in self.items.values() if not i.state.is_final]
            current = min(unfinished, default=0)
            pending = [item for item in pending if item.layer == current]
        return [
            item
            for item in pending
            if self._blockers_done(item) and not self._unlanded(item)
        ]

    def _blockers_done(self, item: Item) -> bool:
        return all(
            self.items[blocker].state is ItemState.COMPLETE
            for blocker in self.plan.blockers[item.key]
        )

    def _unlanded(self, item: Item) -> list[str]:
        """With `worktree.stack: merged`, the blockers not yet merged into the base."""
        if self.stack_mode != "merged":
            return []
        return [b for b in sorted(self.plan.blockers[item.key], key=sort_key)
                if b not in self._landed]

    def _awaiting_merge(self) -> list[Item]:
        # Called on every turn of the loop: only `merged` mode pays for the scan.
        if self.stack_mode != "merged":
            return []
        return [
            item for item in self.items.values()
            if item.state is ItemState.PENDING and self._blockers_done(item)
            and self._unlanded(item)
        ]

    def _check_landed(self) -> None:
        """Ask, at most once an interval, whether the blockers merged-mode dependents
        wait for have landed on the base (a fetch when there is a remote)."""
        waiting = self._awaiting_merge()
        now = time.monotonic()
        if not waiting or now - self._last_landing_check < self.options.interval:
            return
        self._last_landing_check = now
        stacking = self._stacking
        for key in sorted({b for item in waiting for b in self._unlanded(item)}, key=sort_key):
            tip = self.items[key].tip
            try:
                landed = tip is None or (
                    stacking is not None and stacking.merged(tip, self.options.base)
                )
            except PirunError as exc:
                log.warning("cannot tell whether a blocker landed", issue=key, error=str(exc))
                continue
            if landed:
                self._landed.add(key)
        base = self.options.base or self.rt.config.get("base") or "the base branch"
        for item in waiting:
            unlanded = self._unlanded(item)
            holding = (
                "waiting for " + ", ".join(display_key(b) for b in unlanded)
                + f" to be merged into {base}"
            ) if unlanded else ""
            if holding != item.holding:
                item.holding = holding
                self.observer(item)

    def _check_conflicts(self) -> None:
        """Every `worktree.conflict_check` seconds: which running or finished sibling
        branches would not merge with each other."""
        now = time.monotonic()
        if not self.conflict_interval or now - self._last_conflict_check < self.conflict_interval:
            return
        self._last_conflict_check = now
        stacking = self._stacking
        started = {
            key for key, item in self.items.items()
            if item.state in (ItemState.RUNNING, ItemState.COMPLETE)
        }
        if stacking is None or len(started) < 2:
            return
        try:
            workspaces = [ws for ws in stacking.list() if ws.issue in started]
            found = stacking.conflicts(workspaces, self.options.base)
        except PirunError as exc:
            log.warning("conflict check failed", error=str(exc))
            return
        # A dependent holds its blocker's commits: only siblings can clash.
        siblings = [
            c for c in found
            if c.second not in self.plan.dependents(c.first)
            and c.first not in self.plan.dependents(c.second)
        ]
        self._apply_conflicts(siblings)

    def _apply_conflicts(self, conflicts: list[Conflict]) -> None:
        known = {(c.first, c.second) for item in self.items.values() for c in item.conflicts}
        for conflict in conflicts:
            if (conflict.first, conflict.second) not in known:
                log.warning("branches conflict", issue=conflict.first, other=conflict.second,
                            files=list(conflict.files))
                self.rt.pm.hook.pirun_branches_conflict(config=self.rt.config, conflict=conflict)
        for item in self.items.values():
            mine = conflicts_of(conflicts, item.key)
            if mine != item.conflicts:
                item.conflicts = mine
                self.observer(item)
        try:
            save_conflicts(self.rt.config, conflicts)
        except OSError as exc:
            log.warning("cannot save the conflict check", error=str(exc))

    def _stack_for(self, item: Item) -> tuple[StackedWork, ...]:
        """The in-batch blockers' work `item` starts from, in key order (the order
        several are merged in)."""
        if self.stack_mode != "branches":
            return ()
        blockers = sorted(self.plan.blockers[item.key], key=sort_key)
        return tuple(tip for b in blockers if (tip := self.items[b].tip) is not None)

    def _running(self) -> list[Item]:
        return [item for item in self.items.values() if item.state is ItemState.RUNNING]

    # -- starting and watching -----------------------------------------------------------------

    def _launch(self, item: Item) -> StatusRecord | PirunError:
        """Start one issue (in a starting thread): its `running` record, or why not.

        Touches no `Item`: the main thread applies the result, so the observer (the
        live table) only ever runs there.
        """
        rt = self.rt
        record = rt.store.get(item.key)
        try:
            # Only a retry has a worktree to look for (`find` lists every worktree,
            # a git call per issue started otherwise).
            workspace = (
                rt.workspaces.find(item.key)
                if record is not None and record.status.is_final
                else None
            )
            if workspace is not None:
                # A retry keeps the branch and its commits: only the worktree is made anew.
                rt.workspaces.remove(workspace, force=False, delete_branch=False)
            return launch(
                rt,
                item.issue,
                LaunchOptions(
                    base=self.options.base,
                    ignore_blockers=True,
                    workflow=self.options.workflow,
                    timeout=self.options.timeout,
                    stack_on=self._stack_for(item),
                ),
            )
        except PirunError as exc:
            return exc

    def _start_ready(self) -> None:
        """Start every ready issue the limit allows, several at a time.

        A start mostly waits on git (a fetch, `worktree add`) and the backend, so a
        layer of 50 issues starts in a fraction of the time one after another takes.
        """
        self._check_landed()
        ready = self._ready()
        if self.options.max_concurrent:
            ready = ready[: max(0, self.options.max_concurrent - len(self._running()))]
        if not ready:
            return
        # Made here, once, rather than by two starting threads racing to make them.
        self.rt.workspaces, self.rt.backend, self.rt.store  # noqa: B018
        with ThreadPoolExecutor(min(STARTS_AT_ONCE, len(ready))) as pool:
            results = list(pool.map(self._launch, ready))
        for item, result in zip(ready, results, strict=True):
            if isinstance(result, ConcurrencyLimitReached):
                # Other sessions of the repository hold the slots: try again later.
                continue
            if isinstance(result, PirunError):
                item.started = time.time()
                self._fail(item, str(result))
                continue
            item.run_id = result.run_id
            self._set(item, ItemState.RUNNING)

    def _collect(self) -> None:
        """Read the records of running items; enforce the timeout as a safety net."""
        now = time.time()
        for item in self._running():
            record = self.rt.store.get(item.key)
            if record is None:
                # Removed by `pirun cleanup`, which kept the outcome first.
                record = cleaned_record(self.rt, item.key, item.run_id)
            if record is not None and record.status is Status.COMPLETE:
                self._set(item, ItemState.COMPLETE)
            elif record is not None and record.status is Status.ERROR:
                self._fail(item, record.error_message or "error")
            elif record is None:
                self._fail(item, "status record disappeared")
            elif (elapsed := item.elapsed(now)) is not None and elapsed > self.options.timeout + 30:
                # The wrapper enforces the timeout itself; this catches a wrapper that
                # cannot (stuck, or killed without its session going away).
                message = f"timed out after {self.options.timeout:g} s"
                record_outcome(self.rt, item.key, Outcome.error(message, "timeout"))
                self.rt.backend.kill(record.session)
                self._fail(item, message)

    def _abandon_pending(self) -> None:
        if self.stopped_by is None:
            return
        for item in self.items.values():
            if item.state is ItemState.PENDING:
                self._set(
                    item, ItemState.SKIPPED,
                    f"not started: {display_key(self.stopped_by.key)} failed",
                )

    def run(self) -> list[Item]:
        self._resume()
        self._skip_outside_blocked()
        events = StatusEvents(self.rt.config.status_dir, self.options.interval)
        last_reconcile = time.monotonic()
        try:
            while True:
                self._collect()
                self._start_ready()
                self._abandon_pending()
                self._check_conflicts()
                if not self._running() and not self._ready() and not (
                    self.stopped_by is None and self._awaiting_merge()
                ):
                    break
                # Also reached with nothing running when other sessions of the repo
                # hold every slot: wait for one of them to finish.
                events.wait()
                if time.monotonic() - last_reconcile >= self.options.interval:
                    reconcile(self.rt)
                    last_reconcile = time.monotonic()
                self.observer(None)
        finally:
            events.close()
        # Whatever is still pending could not start (e.g. its blockers were skipped).
        for item in self.items.values():
            if item.state is ItemState.PENDING:
                self._set(item, ItemState.SKIPPED, "blocked")
        return list(self.items.values())

