"""One repository's configuration and plugins, and the components they provide."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import filelock
import pluggy

from pirun.config import Config, build_config, find_repo_root, read_raw_config
from pirun.errors import ConfigError, IssueNotFound, LockBusy, PirunError, os_error_reason
from pirun.model import Issue, IssueRef
from pirun.plugin import load_plugins, new_plugin_manager
from pirun.protocols import SessionBackend, StatusStore, Tracker, WorkspaceManager
from pirun.registry import Registry, collect


@dataclass
class Runtime:
    config: Config
    pm: pluggy.PluginManager
    _issues: dict[IssueRef, Issue] = field(default_factory=dict)

    @classmethod
    def load(
        cls, start: Path, disabled: Iterable[str] = (), repo: str | None = None
    ) -> Runtime:
        root = find_repo_root(start)
        path, raw = read_raw_config(root)
        repo_plugins = raw.get("plugins") or []
        config_disabled = raw.get("disable") or []
        if not isinstance(repo_plugins, list) or not all(isinstance(p, str) for p in repo_plugins):
            raise ConfigError("configuration key 'plugins' must be list of str")
        if not isinstance(config_disabled, list) or not all(
            isinstance(p, str) for p in config_disabled
        ):
            raise ConfigError("configuration key 'disable' must be list of str")
        if repo is not None:
            raw = {**raw, "repo": repo}
        pm = new_plugin_manager()
        load_plugins(pm, root, repo_plugins, [*config_disabled, *disabled])
        options = [o for o in pm.hook.pirun_config_options() if o]
        config = build_config(root, path, raw, options)
        pm.hook.pirun_configure.call_historic(kwargs={"config": config})
        return cls(config=config, pm=pm)

    @cached_property
    def backends(self) -> Registry[SessionBackend]:
        return collect(self.pm, "pirun_register_backends", "backend")

    @cached_property
    def trackers(self) -> Registry[Tracker]:
        return collect(self.pm, "pirun_register_trackers", "tracker")

    @cached_property
    def stores(self) -> Registry[StatusStore]:
        return collect(self.pm, "pirun_register_stores", "status store")

    @cached_property
    def backend(self) -> SessionBackend:
        return self.backends.get(self.config.backend, "backend").factory(self.config)

    @cached_property
    def tracker(self) -> Tracker:
        return self.trackers.get(self.config.tracker, "tracker").factory(self.config)

    @cached_property
    def store(self) -> StatusStore:
        return self.stores.get(self.config.get("store"), "store").factory(self.config)

    @cached_property
    def workspaces(self) -> WorkspaceManager:
        manager = self.pm.hook.pirun_workspace_manager(config=self.config)
        if manager is None:
            raise ConfigError("no workspace plugin is loaded (see `pirun plugins`)")
        return manager

    @cached_property
    def tracker_repo(self) -> str | None:
        """The tracker's own repository (owner/name), or None for trackers without one."""
        repo = self.tracker.own_repo()
        return repo.lower() if repo else None

    def local_ref(self, ref: IssueRef) -> IssueRef:
        """`ref`, with the tracker's own repository spelled as this repository ("")."""
        if ref.repo and self.tracker_repo and ref.repo.lower() == self.tracker_repo:
            return IssueRef("", ref.number)
        return ref

    def fetch_issues(self, refs: Iterable[IssueRef]) -> dict[IssueRef, Issue]:
        """Issues by ref, each fetched at most once per process."""
        wanted = list(dict.fromkeys(refs))
        missing = [ref for ref in wanted if ref not in self._issues]
        if missing:
            for issue in self.tracker.fetch(missing):
                self._issues[issue.ref] = issue
        return {ref: self._issues[ref] for ref in wanted if ref in self._issues}

    def fetch_issue(self, number: int) -> Issue:
        ref = IssueRef("", number)
        issues = self.fetch_issues([ref])
        if ref not in issues:
            raise IssueNotFound(number)
        return issues[ref]

    @contextmanager
    def lock(self, name: str, timeout: float = 30.0) -> Iterator[None]:
        """A repository-wide lock shared by every pirun process (flock: a killed
        holder releases it with its file descriptor, so a stale lock cannot linger)."""
        run_dir = self.config.run_dir
        lock = filelock.FileLock(str(run_dir / f"{name}.lock"), timeout=timeout)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except filelock.Timeout:
            raise LockBusy(f"another pirun process holds the '{name}' lock") from None
        except OSError as exc:
            # worktree.dir is a file, read-only, or on a full disk: say so in one line.
            reason = os_error_reason(exc)
            raise PirunError(f"cannot use {run_dir} for pirun's lock files: {reason}") from None
        try:
            yield
        finally:
            lock.release()

