"""Per-issue git worktrees: `<worktree.dir>/issue-<N>-<slug>` on branch `issue-<N>-<slug>`.

An issue whose key is not a number (`PROJ-7`) gets `issue-<name>--<slug>`, where
`<name>` is the key's safe name (`pirun.keys`): names never hold `--` and slugs
never do either, so the issue can always be read back from a branch or directory.

Issue titles are attacker-controlled, so they only ever reach git as a slug made of
`[a-z0-9-]`, and every git call is an argv list: nothing here is parsed by a shell.
"""

from __future__ import annotations

import builtins
import os
import re
import shlex
import subprocess
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

# shutil is imported where it is used: bz2, lzma and zlib come with it, 1.6 MiB
# in every session's exec wrapper, which loads this module and never needs them.
from pirun.api import (
    PROMPT_FILE,
    Config,
    ConfigError,
    Conflict,
    Issue,
    StackedWork,
    Workspace,
    WorkspaceError,
    display_key,
    file_lock,
    get_logger,
    hookimpl,
    is_number,
    key_from_name,
    key_name,
    sort_key,
)
from pirun.api import git as kernel_git

from .stack import REMOTE, Stacks

log = get_logger()

SLUG_MAX = 40
#: `branch.<name>.pirunbase` in the repository's git config: the base a branch started from.
BASE_KEY = "pirunbase"
#: A fetch that waits on a credential prompt or a dead network must not hang a launch.
FETCH_TIMEOUT = 300.0

_NUMBERED = re.compile(r"issue-([0-9]+)(?:-[a-z0-9-]*)?")
_NAMED = re.compile(r"issue-(.+?)--[a-z0-9-]*")
#: The slug of a named issue whose title leaves none: the `--` must stay.
UNTITLED = "untitled"


@hookimpl
def pirun_workspace_manager(config: Config) -> GitWorktrees:
    return GitWorktrees(config)


@hookimpl
def pirun_workspace_changes(config: Config, workspace: Workspace) -> bool | None:
    return GitWorktrees(config).has_changes(workspace)


# -- names ---------------------------------------------------------------------------


def slugify(title: str, limit: int = SLUG_MAX) -> str:
    """`title` as ASCII `[a-z0-9-]`, at most `limit` characters, cut at a `-` if possible.

    Nothing git treats specially (`.`, `..`, `@{`, `~`, `^`, `:`, `/`, spaces, control
    characters, a `.lock` suffix) can survive, whatever the title contains.
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > limit:
        cut = slug[: limit + 1]
        # The character after the limit being `-` means the cut already ends a word.
        boundary = cut.rfind("-")
        slug = cut[:boundary] if boundary > 0 else slug[:limit]
        slug = slug.strip("-")
    return slug


def branch_name(issue: Issue) -> str:
    key = _issue_key(issue.key)
    slug = slugify(issue.title)
    if is_number(key):
        return f"issue-{key}-{slug}" if slug else f"issue-{key}"
    return f"issue-{key_name(key)}--{slug or UNTITLED}"


def _issue_of(name: str) -> str | None:
    """The issue a worktree directory or branch name belongs to, if it is pirun's."""
    # Named first: `issue-42-fix--x` is the named key `42-fix`, never issue 42.
    named = _NAMED.fullmatch(name)
    if named:
        key = key_from_name(named[1])
        return key if key is not None and not is_number(key) else None
    numbered = _NUMBERED.fullmatch(name)
    return numbered[1] if numbered and numbered[1] == str(int(numbered[1])) else None


def _issue_key(key: object) -> str:
    # A number is canonical (`7`, never `007`): `_issue_of` reads only those back, so
    # a worktree made for `007` would be one pirun can never find or remove again.
    if not isinstance(key, str) or not key or (
        key != str(int(key)) if is_number(key) else key_from_name(key_name(key)) != key
    ):
        raise WorkspaceError(f"invalid issue key: {key!r}")
    return key


def setup_log_path(config: Config, issue: str) -> Path:
    """Where `worktree.setup` writes its output: `issue-<N>-setup.log` for a number, as
    the seed named it; `issue-<name>--setup.log` otherwise, since `PROJ-7-setup` is a
    key too and its agent log is `issue-PROJ-7-setup.log` (a name never holds `--`)."""
    if is_number(issue):
        return config.log_dir / f"issue-{issue}-setup.log"
    return config.log_dir / f"issue-{key_name(issue)}--setup.log"


# -- git -----------------------------------------------------------------------------


def git(
    cwd: Path, *args: str, check: bool = True, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git with an argv list; a failure becomes a WorkspaceError quoting git."""
    return kernel_git.run(cwd, *args, error=WorkspaceError, check=check, timeout=timeout)


@dataclass(frozen=True)
class _Entry:
    """One block of `git worktree list --porcelain -z`."""

    path: Path
    branch: str


# -- the manager ---------------------------------------------------------------------


class GitWorktrees:
    """The `WorkspaceManager` backed by `git worktree`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = config.root.resolve()
        self.state_dir = config.state_dir
        # One manager serves a whole batch: what cannot change between two issues of it
        # is asked of git once (every git call is a fork + exec, ~5-10 ms each).
        self._valid_branch_names: set[str] = set()
        self._excluded = False
        self._stacks = Stacks(self._git, self._commit, _issue_of)

    # names and paths

    def branch_name(self, issue: Issue) -> str:
        return branch_name(issue)

    def path_for(self, issue: Issue) -> Path:
        path = (self.state_dir / branch_name(issue)).resolve()
        # The name is `[a-z0-9-]` only, so this cannot fail; it stays as the last line
        # of defence should the slug rules ever change.
        if path.parent != self.state_dir:
            raise WorkspaceError(f"worktree path {path} is outside {self.state_dir}")
        return path

    # WorkspaceManager

    def create(self, issue: Issue, base: str | None, force: bool) -> Workspace:
        return self._create(issue, base, force, ())

    def create_stacked(
        self, issue: Issue, base: str | None, force: bool, blockers: Sequence[StackedWork]
    ) -> Workspace:
        return self._create(issue, base, force, blockers)

    def _create(
        self, issue: Issue, base: str | None, force: bool, blockers: Sequence[StackedWork]
    ) -> Workspace:
        number = _issue_key(issue.key)
        branch = branch_name(issue)
        path = self.path_for(issue)
        # Validate everything that can fail before anything existing is destroyed.
        copy_patterns = self._copy_patterns()
        setup = self._setup_commands()
        self._git("worktree", "prune")
        existing = self.find(number)
        if not force and (existing is not None or path.exists()):
            where = existing.path if existing is not None else path
            raise WorkspaceError(
                f"worktree for issue {display_key(number)} already exists: {where} "
                "(use --force to replace it)"
            )
        reuse = not force and self._has_branch(branch)
        base_name = start = None
        builds_on: builtins.list[StackedWork] = []
        if reuse:
            builds_on = self._stacks.recorded(branch)
        else:
            base_name, start = self._resolve_base(base)
            if blockers:
                # Before anything is touched: a conflict leaves no branch behind.
                start, builds_on = self._stacks.start_point(number, base_name, start, blockers)
        if force:
            self._discard(number, existing, path, branch)

        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._exclude_from_status()
        if reuse:
            log.info(
                "reusing existing branch",
                issue=number,
                branch=branch,
                note="left from an earlier run; its commits are kept",
            )
            self._git("worktree", "add", "--", str(path), branch)
        else:
            assert start is not None
            self._git("worktree", "add", "--no-track", "-b", branch, "--", str(path), start)
            self._record_base(branch, str(base_name))
            if builds_on:
                self._stacks.record(branch, builds_on)
        workspace = Workspace(issue=number, path=path, branch=branch, builds_on=tuple(builds_on))
        try:
            self._copy_files(path, copy_patterns)
            self._run_setup(workspace, setup)
        except BaseException:
            # A half-prepared worktree would make the next run demand --force; undo it,
            # but never delete a reused branch: its commits are someone's work.
            self._git("worktree", "remove", "--force", str(path), check=False)
            if not reuse:
                self._git("branch", "-D", branch, check=False)
            self._git("worktree", "prune", check=False)
            raise
        log.debug("worktree created", issue=number, path=str(path), branch=branch, base=base_name)
        return workspace

    # StackingWorkspaceManager

    def tip(self, issue: Issue) -> StackedWork | None:
        branch = branch_name(issue)
        commit = self._commit(f"refs/heads/{branch}")
        if commit is None:
            # The title may have changed since the branch was named after it.
            workspace = self.find(issue.key)
            if workspace is None or not workspace.branch:
                return None
            branch = workspace.branch
            commit = self._commit(f"refs/heads/{branch}")
        return StackedWork(issue.key, branch, commit) if commit else None

    def merged(self, work: StackedWork, base: str | None) -> bool:
        _, base_commit = self._resolve_base(base)
        return self._stacks.landed(work.commit, base_commit)

    def conflicts(
        self, workspaces: Sequence[Workspace], base: str | None
    ) -> builtins.list[Conflict]:
        name = base or self.config.get("base") or self._local_default_branch
        branches = {ws.issue: ws.branch for ws in workspaces if ws.branch}
        return self._stacks.conflicts(branches, name)

    def builds_on(self, workspace: Workspace) -> builtins.list[StackedWork]:
        """The blockers `workspace`'s branch was last stacked on."""
        return self._stacks.recorded(workspace.branch)

    def restack(self, workspace: Workspace, dry_run: bool) -> builtins.list[str]:
        branch = workspace.branch
        shown = display_key(workspace.issue)
        stack = self._stacks.recorded(branch)
        if not stack:
            return []
        path = workspace.path
        checked_out = path.is_dir() and any(
            entry.path == path.resolve() for entry in self._entries()
        )
        if checked_out and not dry_run and self._dirty(path):
            raise WorkspaceError(
                f"issue {shown}: worktree has uncommitted changes; commit or stash them first"
            )
        head = self._commit(f"refs/heads/{branch}")
        if head is None:
            raise WorkspaceError(f"issue {shown}: branch {branch} not found")
        base_name, base_commit = self._resolve_base(self._recorded_base(branch))
        try:
            target, changes, kept = self._stacks.restack(
                branch, head, stack, base_name, base_commit
            )
        except WorkspaceError as exc:
            raise WorkspaceError(f"issue {shown}: {exc}") from None
        if dry_run:
            return [f"would {change}" for change in changes]
        if target != head:
            if checked_out:
                # A fast-forward to a commit made beside it: the checkout follows,
                # and git refuses rather than overwrite anything.
                git(path, "merge", "--ff-only", "--quiet", target)
            else:
                self._git("update-ref", f"refs/heads/{branch}", target, head)
        self._stacks.record(branch, kept)
        return changes

    def find(self, issue: str) -> Workspace | None:
        matches = [ws for ws in self.list() if ws.issue == issue]
        return matches[0] if matches else None

    def list(self) -> list[Workspace]:
        found = []
        for entry in self._entries():
            if entry.path.parent != self.state_dir:
                continue
            number = _issue_of(entry.path.name)
            if number is not None:
                found.append(Workspace(number, entry.path, entry.branch))
        return sorted(found, key=lambda ws: (sort_key(ws.issue), str(ws.path)))

    def remove(self, workspace: Workspace, force: bool, delete_branch: bool) -> builtins.list[str]:
        import shutil

        number = workspace.issue
        path = workspace.path.resolve()
        if path.parent != self.state_dir or _issue_of(path.name) is None:
            raise WorkspaceError(f"issue {display_key(number)}: {path} is not a pirun worktree")
        registered = any(entry.path == path for entry in self._entries())
        branch = workspace.branch
        # Only ever delete the branch pirun made for this issue, never e.g. `main`.
        owns_branch = _issue_of(branch) == number
        if delete_branch and branch and not owns_branch:
            log.warning("not deleting a branch pirun did not create", issue=number, branch=branch)
        drop_branch = delete_branch and owns_branch and self._has_branch(branch)

        # Check everything first, so a refusal leaves both worktree and branch intact.
        if not force:
            if not registered and path.is_dir():
                raise WorkspaceError(
                    f"issue {display_key(number)}: {path} is not a git worktree "
                    "(left by a crash?); use --force to delete it"
                )
            if registered and path.is_dir() and self._dirty(path):
                raise WorkspaceError(
                    f"issue {display_key(number)}: worktree has uncommitted changes; "
                    "use --force to discard them"
                )
            if drop_branch:
                unmerged = self._unmerged_commits(branch)
                if unmerged:
                    raise WorkspaceError(
                        f"issue {display_key(number)}: branch {branch} has {unmerged} unmerged "
                        "commit(s); use --force to delete it"
                    )

        removed = []
        # A registered worktree whose directory is gone is only pruned: nothing to report.
        if registered and path.is_dir():
            # --force because the checks above are ours; git's own would trip on the
            # untracked prompt file when info/exclude was edited.
            self._git("worktree", "remove", "--force", str(path))
            removed.append(f"worktree {path}")
        elif path.is_dir():
            # A directory git does not know about (a crash between steps); --force only.
            shutil.rmtree(path)
            removed.append(f"worktree {path}")
        self._git("worktree", "prune")
        if drop_branch:
            self._git("branch", "-D", branch)
            removed.append(f"branch {branch}")
        return removed

    # helpers: git state

    def _git(
        self, *args: str, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        if args[0] != "worktree":
            return git(self.root, *args, check=check, timeout=timeout)
        # `git worktree list` or `prune` reading `.git/worktrees/<name>` while another
        # `worktree add` is still writing it fails ("failed to read .../commondir"):
        # one worktree command at a time, across threads and pirun processes.
        self.config.run_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.config.run_dir / "git-worktrees.lock"):
            return git(self.root, *args, check=check, timeout=timeout)

    def _entries(self) -> Iterator[_Entry]:
        # -z: a path may contain a newline; NUL cannot occur in one.
        out = self._git("worktree", "list", "--porcelain", "-z").stdout
        block: dict[str, str] = {}
        for field in [*out.split("\0"), ""]:
            if field:
                key, _, value = field.partition(" ")
                block[key] = value
                continue
            if "worktree" in block:
                branch = block.get("branch", "")
                yield _Entry(
                    path=Path(block["worktree"]).resolve(),
                    branch=branch.removeprefix("refs/heads/"),
                )
            block = {}

    def _has_ref(self, ref: str) -> bool:
        return self._commit(ref) is not None

    def _has_branch(self, branch: str) -> bool:
        return self._has_ref(f"refs/heads/{branch}")

    @cached_property
    def _has_remote(self) -> bool:
        return self._git("config", "--get", f"remote.{REMOTE}.url", check=False).returncode == 0

    @cached_property
    def _default_branch(self) -> str:
        return self.default_branch()

    @cached_property
    def _local_default_branch(self) -> str:
        # Asked by every conflict check of a batch: without asking the remote.
        return self.default_branch(network=False)

    def default_branch(self, network: bool = True) -> str:
        """origin/HEAD when there is a remote, else the main worktree's branch."""
        if self._has_remote:
            head = self._git("symbolic-ref", "--quiet", f"refs/remotes/{REMOTE}/HEAD", check=False)
            prefix = f"refs/remotes/{REMOTE}/"
            if head.returncode == 0 and head.stdout.strip().startswith(prefix):
                return head.stdout.strip().removeprefix(prefix)
            if network:
                # origin/HEAD is only set by clone; ask the remote when it is missing.
                remote = self._git(
                    "ls-remote", "--symref", REMOTE, "HEAD", check=False, timeout=FETCH_TIMEOUT
                )
                for line in remote.stdout.splitlines():
                    ref, _, what = line.partition("\t")
                    if what == "HEAD" and ref.startswith("ref: refs/heads/"):
                        return ref.removeprefix("ref: refs/heads/")
        current = self._git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        if current.returncode != 0 or not current.stdout.strip():
            raise WorkspaceError(
                "cannot tell the default branch (detached HEAD); set `base` in .pirun.yaml"
            )
        return current.stdout.strip()

    def _check_branch_name(self, name: str) -> None:
        if name in self._valid_branch_names:
            return
        # A leading `-` would be read as an option by the git calls below.
        if (
            name.startswith("-")
            or self._git("check-ref-format", "--branch", name, check=False).returncode != 0
        ):
            raise WorkspaceError(f"base branch '{name}' is not a valid branch name")
        self._valid_branch_names.add(name)

    def _resolve_base(self, base: str | None) -> tuple[str, str]:
        """The base branch's name and the commit to branch from."""
        name = base or self.config.get("base") or self._default_branch
        self._check_branch_name(name)
        if self._has_remote:
            tracking = f"refs/remotes/{REMOTE}/{name}"
            fetch = self._git(
                "fetch",
                "--quiet",
                "--no-tags",
                REMOTE,
                f"+refs/heads/{name}:{tracking}",
                check=False,
                timeout=FETCH_TIMEOUT,
            )
            if fetch.returncode == 0:
                commit = self._commit(tracking)
                if commit is None:
                    raise WorkspaceError(f"cannot read {tracking} after fetching it")
                return name, commit
            if "couldn't find remote ref" not in fetch.stderr:
                reason = fetch.stderr.strip().splitlines()
                raise WorkspaceError(
                    f"cannot fetch base branch '{name}' from {REMOTE}: "
                    + (reason[-1] if reason else f"exit code {fetch.returncode}")
                )
            # A branch that was never pushed: the local one is the only one there is.
            commit = self._commit(f"refs/heads/{name}")
            if commit is None:
                raise WorkspaceError(f"base branch '{name}' not found")
            log.warning(
                "base branch is not on the remote; using the local one", base=name, remote=REMOTE
            )
            return name, commit
        # Read per issue, not per batch: a base that moves during a batch (a blocker's
        # branch merged) is what the later issues should start from.
        commit = self._commit(f"refs/heads/{name}")
        if commit is None:
            raise WorkspaceError(f"base branch '{name}' not found")
        return name, commit

    def _commit(self, ref: str) -> str | None:
        """The commit `ref` points at, or None when there is no such ref."""
        found = self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return found.stdout.strip() if found.returncode == 0 else None

    def _record_base(self, branch: str, base: str) -> None:
        """Remember the base so `remove` checks merges against what the branch actually
        started from, not today's default branch. `git branch -D` forgets it again."""
        key = f"branch.{branch}.{BASE_KEY}"
        for attempt in range(5):
            # Another pirun creating a worktree at the same moment may hold config.lock.
            if self._git("config", key, base, check=False).returncode == 0:
                return
            time.sleep(0.05 * (attempt + 1))
        log.warning(
            "could not record the base branch; merges will be checked against the default branch",
            branch=branch,
            base=base,
        )

    def _recorded_base(self, branch: str) -> str | None:
        """The base `branch` started from (`_record_base`), if it was recorded."""
        recorded = self._git("config", "--get", f"branch.{branch}.{BASE_KEY}", check=False)
        return recorded.stdout.strip() or None

    def has_changes(self, workspace: Workspace) -> bool | None:
        """Commits on the branch that its base lacks, or uncommitted changes; None
        when `workspace` is not one of these worktrees or git cannot tell."""
        if not workspace.path.is_dir() or _issue_of(workspace.path.name) is None:
            return None
        try:
            return self._dirty(workspace.path) or self._unmerged_commits(workspace.branch) > 0
        except (WorkspaceError, ValueError):
            return None

    def _dirty(self, path: Path) -> bool:
        out = git(path, "status", "--porcelain", "-z", "--untracked-files=all").stdout
        # Each entry is `XY <path>` (a rename adds its old path as one more field, but a
        # rename is a change anyway); the prompt file alone is not the agent's work.
        return any(entry and entry[3:] != PROMPT_FILE for entry in out.split("\0"))

    def _unmerged_commits(self, branch: str) -> int:
        recorded = self._recorded_base(branch)
        names = [recorded] if recorded else []
        # The recorded base may have been deleted since; then the default branch decides.
        names.append(self.config.get("base") or self.default_branch(network=False))
        for name in dict.fromkeys(names):
            # Merged either locally or on the remote (where pull requests land) counts.
            candidates = (f"refs/heads/{name}", f"refs/remotes/{REMOTE}/{name}")
            refs = [ref for ref in candidates if self._has_ref(ref)]
            if refs:
                out = self._git("rev-list", "--count", f"refs/heads/{branch}", "--not", *refs)
                return int(out.stdout.strip() or 0)
        raise WorkspaceError(
            f"cannot tell whether branch {branch} is merged: base branch '{names[0]}' "
            "not found; use --force to delete it anyway"
        )

    def _discard(self, number: str, existing: Workspace | None, path: Path, branch: str) -> None:
        """--force: remove the old worktree and branch, keeping nothing stale."""
        import shutil

        old = [existing.path] if existing is not None else []
        for stale in dict.fromkeys([*old, path]):
            if any(entry.path == stale for entry in self._entries()):
                self._git("worktree", "remove", "--force", str(stale))
            elif stale.is_dir():
                shutil.rmtree(stale)
        self._git("worktree", "prune")
        branches = [branch]
        if existing is not None and _issue_of(existing.branch) == number:
            branches.append(existing.branch)
        for name in dict.fromkeys(branches):
            if self._has_branch(name):
                self._git("branch", "-D", name)
        log.info("replaced previous worktree", issue=number, path=str(path))

    def _exclude_from_status(self) -> None:
        """List the prompt file (and the state dir, when inside the repo) in
        `$GIT_COMMON_DIR/info/exclude`, so an agent's `git add -A` never commits them."""
        if self._excluded:
            return
        common = self._git("rev-parse", "--path-format=absolute", "--git-common-dir")
        exclude = Path(common.stdout.strip()) / "info" / "exclude"
        wanted = [PROMPT_FILE]
        if self.state_dir.is_relative_to(self.root):
            relative = self.state_dir.relative_to(self.root).as_posix()
            if relative != ".":
                wanted.append(f"/{relative}/")
        self.config.run_dir.mkdir(parents=True, exist_ok=True)
        # Two pirun processes creating worktrees at once must not both append.
        with file_lock(self.config.run_dir / "git-exclude.lock"):
            exclude.parent.mkdir(parents=True, exist_ok=True)
            text = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
            present = {line.strip() for line in text.splitlines()}
            missing = [line for line in wanted if line not in present]
            if missing:
                prefix = "" if not text or text.endswith("\n") else "\n"
                with exclude.open("a", encoding="utf-8") as handle:
                    handle.write(prefix + "".join(f"{line}\n" for line in missing))
        self._excluded = True

    # helpers: copy_files

    def _copy_patterns(self) -> builtins.list[str]:
        patterns = self.config.values["worktree"]["copy_files"]
        for pattern in patterns:
            parts = pattern.replace("\\", "/").split("/")
            if (
                not pattern.strip()
                or Path(pattern).is_absolute()
                or pattern.startswith("~")
                or ".." in parts
            ):
                raise ConfigError(
                    f"configuration key 'worktree.copy_files': '{pattern}' must be a path "
                    "or glob relative to the repository root, without '..'"
                )
        return list(patterns)

    def _copy_files(self, worktree: Path, patterns: Sequence[str]) -> None:
        import shutil

        root = self.root
        for pattern in patterns:
            sources = sorted(self._expand(root, pattern))
            if not sources:
                log.warning("copy_files: nothing matches; skipped", pattern=pattern)
                continue
            for source in sources:
                relative = source.relative_to(root)
                real = source.resolve()
                # A symlink could point anywhere; only content inside the repo is copied.
                if not real.is_relative_to(root) or real.is_relative_to(self.state_dir):
                    log.warning(
                        "copy_files: outside the repository; skipped",
                        pattern=pattern,
                        file=str(relative),
                    )
                    continue
                target = worktree / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                # Never write through a symlink the checkout put there.
                if target.is_symlink():
                    target.unlink()
                shutil.copy2(real, target)
                log.debug("copied into worktree", file=str(relative))

    def _expand(self, root: Path, pattern: str) -> Iterator[Path]:
        """Files matched by `pattern` (a directory matches every file under it),
        never inside `.git` or pirun's own state directory."""
        for match in root.glob(pattern):
            candidates = (
                [match] if not match.is_dir() else [p for p in match.rglob("*") if not p.is_dir()]
            )
            for path in candidates:
                relative = path.relative_to(root)
                if relative.parts[0] == ".git" or path.is_relative_to(self.state_dir):
                    continue
                if path.is_file():
                    yield path

    # helpers: setup

    def _setup_commands(self) -> builtins.list[builtins.list[str]]:
        commands = []
        for entry in self.config.values["worktree"]["setup"]:
            if isinstance(entry, str):
                try:
                    argv = shlex.split(entry)
                except ValueError as exc:
                    raise ConfigError(
                        f"configuration key 'worktree.setup': cannot split {entry!r}: {exc}"
                    ) from None
            else:
                argv = entry
            if not argv or not all(isinstance(arg, str) for arg in argv):
                raise ConfigError(
                    f"configuration key 'worktree.setup': {entry!r} must be a non-empty "
                    "command (a list of strings or a string)"
                )
            commands.append(list(argv))
        return commands

    def _run_setup(self, workspace: Workspace, commands: Sequence[builtins.list[str]]) -> None:
        if not commands:
            return
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = setup_log_path(self.config, workspace.issue)
        env = {
            **os.environ,
            "PIRUN_ISSUE": str(workspace.issue),
            "PIRUN_BRANCH": workspace.branch,
            "PIRUN_WORKTREE": str(workspace.path),
            "PIRUN_REPO": str(self.root),
        }
        with log_path.open("w", encoding="utf-8") as out:
            for argv in commands:
                out.write(f"$ {shlex.join(argv)}\n")
                out.flush()
                try:
                    rc = subprocess.run(
                        argv,
                        cwd=workspace.path,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        env=env,
                    ).returncode
                except OSError as exc:
                    out.write(f"cannot run {argv[0]}: {exc.strerror or exc}\n")
                    raise WorkspaceError(
                        f"setup failed: {argv[0]} could not be run "
                        f"({exc.strerror or exc}) (see {log_path})"
                    ) from None
                if rc != 0:
                    out.write(f"exit code {rc}\n")
                    raise WorkspaceError(
                        f"setup failed: {argv[0]} exited with code {rc} (see {log_path})"
                    )
        log.debug("setup finished", issue=workspace.issue, log=str(log_path))
