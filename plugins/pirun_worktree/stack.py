"""Stacked branches: a dependent starts from its blockers' work (`worktree.stack`).

Everything here works on commits and trees with git's plumbing (`merge-tree
--write-tree`, `commit-tree`, `update-ref`), so no worktree, index or checkout is
touched: an agent working next door never sees a lock or a changed file. A branch
built on blockers records them in `branch.<name>.pirunstack` (one `<branch>
<commit> <issue>` value per blocker, next to `pirunbase`), which is what `restack`
and the GitHub plugin's stacked pull requests read.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from pirun.api import (
    Conflict,
    StackConflict,
    StackedWork,
    WorkspaceError,
    display_key,
    git,
    shown_files,
    sort_key,
)

#: `branch.<name>.pirunstack`: the blockers' branches and commits a branch started from.
STACK_KEY = "pirunstack"
REMOTE = "origin"
#: What a prompt shows of each blocker's history: enough to orient, never a novel.
MOST_SUBJECTS = 20
MOST_DIFFSTAT_LINES = 30

Git = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class _Moved:
    """One branch as the last conflict check saw it."""

    commit: str
    files: frozenset[str]


class Stacks:
    """The git side of stacking, for one repository (`git` runs in its root)."""

    def __init__(
        self, run: Git, commit: Callable[[str], str | None], issue_of: Callable[[str], str | None]
    ) -> None:
        self._run = run
        self._commit = commit
        self._issue_of = issue_of
        self._seen: dict[str, _Moved] = {}
        self._pairs: dict[tuple[str, str], tuple[str, ...]] = {}
        self._identity: list[str] | None = None

    # -- plumbing -------------------------------------------------------------------

    def is_ancestor(self, ancestor: str, commit: str) -> bool:
        proc = self._run("merge-base", "--is-ancestor", ancestor, commit, check=False)
        if proc.returncode not in (0, 1):
            raise WorkspaceError(f"git merge-base failed: {git.last_line(proc)}")
        return proc.returncode == 0

    def merge(self, ours: str, theirs: str) -> tuple[str, tuple[str, ...]]:
        """The tree of merging `theirs` into `ours`, and the files that conflict."""
        proc = self._run(
            "merge-tree", "--write-tree", "-z", "--name-only", "--no-messages", ours, theirs,
            check=False,
        )
        if proc.returncode not in (0, 1):
            raise WorkspaceError(f"git merge-tree failed: {git.last_line(proc)}")
        tree, *rest = proc.stdout.split("\0")
        files = tuple(dict.fromkeys(name for name in rest if name))
        return tree, files if proc.returncode == 1 else ()

    def tree_of(self, commit: str) -> str:
        return self._run("rev-parse", f"{commit}^{{tree}}").stdout.strip()

    def landed(self, commit: str, base_commit: str) -> bool:
        """Whether `commit`'s work is on the base: merged (an ancestor), or squashed or
        rebased into it (merging it would change nothing)."""
        if self.is_ancestor(commit, base_commit):
            return True
        tree, files = self.merge(base_commit, commit)
        return not files and tree == self.tree_of(base_commit)

    def commit_tree(self, tree: str, parents: Sequence[str], message: str) -> str:
        args = [arg for parent in parents for arg in ("-p", parent)]
        return self._run(
            *self._identity_args(), "commit-tree", tree, *args, "-m", message
        ).stdout.strip()

    def _identity_args(self) -> list[str]:
        # The person's identity when git has one; else commits say they are pirun's
        # rather than failing with "Please tell me who you are".
        if self._identity is None:
            known = self._run("config", "user.email", check=False).returncode == 0
            self._identity = [] if known else [
                "-c", "user.name=pirun", "-c", "user.email=pirun@localhost"
            ]
        return self._identity

    # -- recorded stacks ------------------------------------------------------------

    def recorded(self, branch: str) -> list[StackedWork]:
        proc = self._run("config", "--get-all", f"branch.{branch}.{STACK_KEY}", check=False)
        found = []
        for line in proc.stdout.splitlines():
            blocker_branch, _, rest = line.strip().partition(" ")
            commit, _, issue = rest.partition(" ")
            key = issue or self._issue_of(blocker_branch)
            if key and commit:
                found.append(StackedWork(key, blocker_branch, commit))
        return found

    def record(self, branch: str, stack: Sequence[StackedWork]) -> None:
        key = f"branch.{branch}.{STACK_KEY}"
        self._run("config", "--unset-all", key, check=False)
        for work in stack:
            self._run("config", "--add", key, f"{work.branch} {work.commit} {work.issue}")

    # -- starting a dependent ---------------------------------------------------------

    def start_point(
        self, issue: str, base_name: str, base_commit: str, blockers: Sequence[StackedWork]
    ) -> tuple[str, list[StackedWork]]:
        """The commit a dependent's branch starts from, and the blockers it holds.

        One blocker: its commit. Several: the base with each merged in, in the order
        given (a fast-forward where one already holds the other). Blockers whose work
        is on the base already add nothing."""
        pending = [work for work in blockers if not self.landed(work.commit, base_commit)]
        if not pending:
            return base_commit, []
        if len(pending) == 1:
            return pending[0].commit, [self.described(pending[0], base_commit)]
        current = base_commit
        merged: list[StackedWork] = []
        for work in pending:
            if self.is_ancestor(work.commit, current):
                merged.append(work)
                continue
            if self.is_ancestor(current, work.commit):
                current = work.commit
                merged.append(work)
                continue
            tree, files = self.merge(current, work.commit)
            if files:
                raise StackConflict(self._conflict(issue, base_name, merged, work, files), files)
            names = ", ".join(display_key(w.issue) for w in [*merged, work])
            current = self.commit_tree(
                tree, [current, work.commit],
                f"Integrate {names} for {display_key(issue)} (pirun)",
            )
            merged.append(work)
        return current, [self.described(work, base_commit) for work in pending]

    def _conflict(
        self, issue: str, base_name: str, merged: Sequence[StackedWork], work: StackedWork,
        files: tuple[str, ...],
    ) -> str:
        """`conflict between #5 and #7 in config.txt`: the earlier blocker that clashes
        with `work` on those files, else the base (which moved under them)."""
        other = f"the base branch {base_name}"
        for earlier in merged:
            _, clashing = self.merge(earlier.commit, work.commit)
            if set(clashing) & set(files):
                other = display_key(earlier.issue)
                break
        return (
            f"conflict between {other} and {display_key(work.issue)} in {shown_files(files)}: "
            f"{display_key(issue)} cannot start from both (its agent was not started)"
        )

    def described(self, work: StackedWork, base_commit: str) -> StackedWork:
        """`work` with its commit subjects and diffstat since the base, for the prompt."""
        span = f"{base_commit}..{work.commit}"
        subjects = self._run(
            "log", "--reverse", "--no-merges", "--format=%s", f"--max-count={MOST_SUBJECTS}", span
        ).stdout.splitlines()
        stat = self._run("diff", "--stat=72", f"{base_commit}...{work.commit}").stdout
        lines = stat.rstrip("\n").splitlines()
        if len(lines) > MOST_DIFFSTAT_LINES:
            lines = [*lines[: MOST_DIFFSTAT_LINES - 1], "...", lines[-1]]
        return replace(work, subjects=tuple(subjects), diffstat="\n".join(lines))

    # -- restacking -----------------------------------------------------------------

    def restack(
        self, branch: str, head: str, stack: Sequence[StackedWork], base_name: str,
        base_commit: str,
    ) -> tuple[str, list[str], list[StackedWork]]:
        """The commit `branch` (at `head`, standing on `stack`) should move to, what it
        merges (one line each), and the blockers it still stands on afterwards.
        Raises WorkspaceError on a conflict."""
        targets: list[tuple[str, str]] = []
        kept: list[StackedWork] = []
        for work in stack:
            now = self._commit(f"refs/heads/{work.branch}")
            shown = display_key(work.issue)
            if self.landed(now or work.commit, base_commit):
                targets.append((base_commit, f"{base_name} ({shown} landed there)"))
            elif now is None:
                kept.append(work)
            elif now != work.commit:
                count = self._run("rev-list", "--count", f"{work.commit}..{now}").stdout.strip()
                targets.append((now, f"{work.branch} ({shown}: {count} new commit(s))"))
                kept.append(replace(work, commit=now))
            else:
                kept.append(work)
        current = head
        changes = []
        for commit, what in dict.fromkeys(targets):
            if self.is_ancestor(commit, current):
                continue
            tree, files = self.merge(current, commit)
            if files:
                raise WorkspaceError(
                    f"merging {what} into {branch} conflicts in {shown_files(files)}; "
                    "nothing was changed (merge it by hand)"
                )
            current = self.commit_tree(
                tree, [current, commit], f"Merge {what} into {branch} (pirun restack)"
            )
            changes.append(f"merge {what}")
        return current, changes, kept

    # -- early conflict warnings ----------------------------------------------------------

    def conflicts(self, branches: dict[str, str], base_name: str) -> list[Conflict]:
        """Pairs of `branches` (issue -> branch) that would conflict, with the files.

        A branch costs a `git diff --name-only` only when its commit moved since the
        last call, and a pair a `merge-tree` only when both changed a file in common
        and that pair of commits was not checked before."""
        heads = self._heads()
        # The remote's copy when there is one (where pull requests land), as fetched
        # when worktrees start: a check every few seconds never fetches.
        base_commit = heads.get(f"{REMOTE}/{base_name}") or heads.get(base_name)
        if base_commit is None:
            raise WorkspaceError(f"base branch '{base_name}' not found")
        touched: dict[str, _Moved] = {}
        for issue, branch in branches.items():
            commit = heads.get(branch)
            if commit is None:
                continue
            seen = self._seen.get(branch)
            if seen is None or seen.commit != commit:
                names = self._run(
                    "diff", "--name-only", "-z", f"{base_commit}...{commit}"
                ).stdout.split("\0")
                seen = self._seen[branch] = _Moved(commit, frozenset(n for n in names if n))
            touched[issue] = seen
        found = []
        issues = sorted(touched, key=sort_key)
        for i, first in enumerate(issues):
            for second in issues[i + 1 :]:
                a, b = touched[first], touched[second]
                if not a.files & b.files:
                    continue
                pair = (a.commit, b.commit)
                if pair not in self._pairs:
                    self._pairs[pair] = self.merge(a.commit, b.commit)[1]
                if self._pairs[pair]:
                    found.append(Conflict(first, second, self._pairs[pair]))
        return found

    def _heads(self) -> dict[str, str]:
        """Every local branch's commit, and the remote's as `origin/<name>`, in one call."""
        out = self._run(
            "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads/",
            f"refs/remotes/{REMOTE}/",
        ).stdout
        return dict(line.rsplit(" ", 1) for line in out.splitlines() if " " in line)

