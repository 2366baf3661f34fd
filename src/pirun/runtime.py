"""One repository's configuration and plugins, and the components they provide."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pluggy

from pirun.config import Config, build_config, find_repo_root, read_raw_config
from pirun.errors import (
    ConfigError,
    IssueNotFound,
    LockBusy,
    PirunError,
    UsageError,
    os_error_reason,
)
from pirun.locks import LockTimeout, file_lock
from pirun.model import Issue
from pirun.plugin import (
    PluginRef,
    load_plugin_refs,
    load_plugins,
    new_plugin_manager,
    plugin_refs,
)
from pirun.protocols import SessionBackend, StatusStore, Tracker, WorkspaceManager
from pirun.registry import Registry, collect


@dataclass
class Runtime:
    config: Config
    pm: pluggy.PluginManager
    _issues: dict[str, Issue] = field(default_factory=dict)

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

    def snapshot(self) -> dict[str, Any] | None:
        """This runtime as JSON data, for `restore` in another process (each session's
        exec wrapper): the validated configuration and which plugins are loaded. None
        when it cannot be written down (a plugin that is not a module, a value that
        is not JSON)."""
        refs = plugin_refs(self.pm)
        if refs is None:
            return None
        data = {
            "root": str(self.config.root),
            "path": str(self.config.path) if self.config.path is not None else None,
            "values": self.config.values,
            "plugins": [dataclasses.asdict(ref) for ref in refs],
        }
        try:
            json.dumps(data)
        except (TypeError, ValueError):
            return None
        return data

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Runtime:
        """The runtime `snapshot` wrote down: the same plugins and configuration, with
        no entry points scanned and no YAML read or checked again."""
        pm = new_plugin_manager()
        load_plugin_refs(pm, [PluginRef(**ref) for ref in data["plugins"]])
        config = Config(
            root=Path(data["root"]),
            path=Path(data["path"]) if data["path"] is not None else None,
            values=data["values"],
        )
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

    def parse_key(self, text: str) -> str | None:
        """`text` as one of the tracker's keys, or None when it is not one."""
        return self.tracker.parse_key(text.strip())

    def require_key(self, text: str) -> str:
        """`text` as one of the tracker's keys; UsageError naming the tracker if not."""
        key = self.parse_key(text)
        if key is None:
            raise UsageError(f"not an issue key of the {self.tracker.name} tracker: {text!r}")
        return key

    def issue_of_session(self, name: str) -> str | None:
        """The issue whose session `name` is, or None when the session is not pirun's.

        A name is `<prefix>-issue-<key_name(key)>` for a key of the tracker
        (`parse_key(key) == key`). Any name is some text's safe name, so the tracker's
        word is what tells a session that merely shares the prefix (`pi-issue-7-notes`,
        `pi-issue-007`) from one pirun started; stopping it would end someone else's.
        """
        key = self.config.issue_of_session(name)
        return key if key is not None and self.parse_key(key) == key else None

    def fetch_issues(self, keys: Iterable[str]) -> dict[str, Issue]:
        """Issues by key, each fetched at most once per process."""
        wanted = list(dict.fromkeys(keys))
        missing = [key for key in wanted if key not in self._issues]
        if missing:
            for issue in self.tracker.fetch(missing):
                self._issues[issue.key] = issue
        return {key: self._issues[key] for key in wanted if key in self._issues}

    def fetch_issue(self, key: str) -> Issue:
        issues = self.fetch_issues([key])
        if key not in issues:
            raise IssueNotFound(key)
        return issues[key]

    @contextmanager
    def lock(self, name: str, timeout: float = 30.0) -> Iterator[None]:
        """A repository-wide lock shared by every pirun process (flock: a killed
        holder releases it with its file descriptor, so a stale lock cannot linger)."""
        run_dir = self.config.run_dir
        with ExitStack() as held:
            try:
                run_dir.mkdir(parents=True, exist_ok=True)
                held.enter_context(file_lock(run_dir / f"{name}.lock", timeout))
            except LockTimeout:
                raise LockBusy(f"another pirun process holds the '{name}' lock") from None
            except OSError as exc:
                # worktree.dir is a file, read-only, or on a full disk: say so in one line.
                reason = os_error_reason(exc)
                raise PirunError(
                    f"cannot use {run_dir} for pirun's lock files: {reason}"
                ) from None
            yield

