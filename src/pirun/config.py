"""`.pirun.yaml`: finding it, reading it safely, validating every key."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pirun.errors import ConfigError, UsageError, yaml_error_message
from pirun.keys import key_from_name, key_name
from pirun.stash import Stash

CONFIG_NAMES = (".pirun.yaml", ".pi-runner.yaml")


@dataclass(frozen=True)
class Option:
    """One configuration key: accepted types, default, and the help shown in docs."""

    types: type | tuple[type, ...]
    default: Any
    help: str
    items: type | tuple[type, ...] | None = None
    #: Checks a value of the right type further; returns what is wrong with it, or
    #: None. A value that would only fail where it is used (a regex compiled in every
    #: session's wrapper) fails when the configuration is loaded instead.
    check: Callable[[Any], str | None] | None = None

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.default is None
        types = self.types if isinstance(self.types, tuple) else (self.types,)
        if isinstance(value, bool) and bool not in types:
            return False
        if not isinstance(value, types):
            return False
        if self.items is not None and isinstance(value, list):
            return all(isinstance(item, self.items) for item in value)
        return True

    def type_name(self) -> str:
        types = self.types if isinstance(self.types, tuple) else (self.types,)
        names = [t.__name__ for t in types]
        if self.items is not None and list in types:
            items = self.items if isinstance(self.items, tuple) else (self.items,)
            inner = " or ".join(t.__name__ for t in items)
            names = [f"list of {inner}" if n == "list" else n for n in names]
        return " or ".join(names)


def regular_expression(value: str) -> str | None:
    """What is wrong with `value` as a regular expression, or None if it compiles."""
    try:
        re.compile(value)
    except re.error as exc:
        return f"is not a valid regular expression: {exc}"
    return None


def attention_patterns(value: dict[Any, Any]) -> str | None:
    """What is wrong with `value` as regex -> reason pairs, or None."""
    for pattern, reason in value.items():
        if not isinstance(pattern, str) or not isinstance(reason, str):
            return "must map regular expressions to reasons (text)"
        problem = regular_expression(pattern)
        if problem:
            return f"key {pattern!r} {problem}"
    return None


def one_of(*choices: str) -> Callable[[str], str | None]:
    """A check accepting only `choices`."""

    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def not_negative(value: float) -> str | None:
    return "must not be negative" if value < 0 else None


Schema = Mapping[str, "Option | Schema"]

#: `worktree.stack`: where a dependent's branch starts (see docs/stacking.md).
STACK_MODES = ("branches", "merged", "off")

KERNEL_OPTIONS: dict[str, Any] = {
    "tracker": Option(str, "local", "Issue tracker by name: local, github (see `pirun plugins`)."),
    "backend": Option(
        str, "tmux", "Session backend by name: tmux, process, ray (see `pirun plugins`)."
    ),
    "store": Option(str, "json", "Status store by name (see `pirun plugins`)."),
    "repo": Option(
        str, None, "The tracker's repository as owner/name (default: from the origin remote)."
    ),
    "base": Option(str, None, "Branch new worktrees start from (default: the repo's default)."),
    "agent": {
        "preset": Option(str, "pi", "Agent preset: pi, claude, codex, opencode, demo."),
        "command": Option(
            (list, str),
            None,
            "Custom agent argv (list, or a string split like a shell would, never run by one). "
            "Placeholders: {issue} {prompt_file} {worktree} {branch} {session} {repo}.",
            items=str,
        ),
        "input_prompt": Option(
            str,
            None,
            "Regex (searched in the agent's last output line and its screen's bottom lines)"
            " for an agent waiting for a person (default: the preset's).",
            check=regular_expression,
        ),
        "attention": Option(
            dict,
            None,
            "Screens that need a person, regex -> reason (`Sign in with: sign-in required`),"
            " searched in every line of a quiet agent's screen (default: the preset's).",
            check=attention_patterns,
        ),
        "mode": Option(
            str,
            None,
            "interactive (the agent's TUI) or print (one-shot run); "
            "default: interactive under tmux, print otherwise.",
        ),
    },
    "parallel": {
        "max_concurrent": Option(int, 0, "Most sessions running at once (0 = unlimited)."),
    },
    "session": {
        "prefix": Option(str, "pi", "Session names are <prefix>-issue-<key name>."),
    },
    "worktree": {
        "dir": Option(str, ".worktrees", "Where worktrees, logs and status records live."),
        "copy_files": Option(
            list, [], "Untracked files (globs) copied into each new worktree.", items=str
        ),
        "setup": Option(
            list, [], "Commands (argv lists) run in a new worktree before the agent.",
            items=(list, str),
        ),
        "stack": Option(
            str, "branches", "Where a dependent's branch starts: branches (from its "
            "blockers' work), merged (from the base, once its blockers are merged into "
            "it) or off (from the base, at once).", check=one_of(*STACK_MODES),
        ),
        "conflict_check": Option(
            (int, float), 30, "Seconds between checks of a batch's branches for "
            "conflicts with each other (0: never).", check=not_negative,
        ),
    },
    "detect": {
        "idle_seconds": Option(
            (int, float), 30, "Quiet seconds after which an agent at its input prompt is "
            "shown as waiting (0: never)."
        ),
    },
    "plugins": Option(list, [], "Extra plugins: module names or .py paths in the repo.", items=str),
    "disable": Option(list, [], "Plugins not to load, by name (like -p no:NAME).", items=str),
}


def merge_schemas(*schemas: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for schema in schemas:
        for key, value in schema.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
                merged[key] = merge_schemas(merged[key], value)
            elif isinstance(value, Mapping):
                merged[key] = merge_schemas(value)
            else:
                merged[key] = value
    return merged


def _validate(raw: Mapping[str, Any], schema: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if not isinstance(key, str) or key not in schema:
            raise ConfigError(f"unknown configuration key '{dotted}'")
        spec = schema[key]
        if isinstance(spec, Mapping):
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                raise ConfigError(f"configuration key '{dotted}' must be a mapping")
            values[key] = _validate(value, spec, dotted + ".")
        elif not spec.accepts(value):
            raise ConfigError(
                f"configuration key '{dotted}' must be {spec.type_name()}, "
                f"got {type(value).__name__}"
            )
        else:
            problem = spec.check(value) if spec.check and value is not None else None
            if problem:
                raise ConfigError(f"configuration key '{dotted}' {problem}")
            values[key] = value
    for key, spec in schema.items():
        if key in values:
            continue
        values[key] = _validate({}, spec, f"{prefix}{key}.") if isinstance(spec, Mapping) else (
            spec.default.copy() if isinstance(spec.default, list | dict) else spec.default
        )
    return values


@dataclass(frozen=True)
class Config:
    """The validated configuration of one repository, defaults filled in."""

    root: Path
    path: Path | None
    values: dict[str, Any] = field(default_factory=dict)
    #: Per-configuration state of plugins (`config.stash[KEY]`), instead of globals.
    stash: Stash = field(default_factory=Stash, compare=False, repr=False)

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.values
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def relative(self, path: Path) -> str:
        """`path` as shown to people: relative to the repository when inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    @property
    def tracker(self) -> str:
        return self.values["tracker"]

    @property
    def backend(self) -> str:
        return self.values["backend"]

    @property
    def prefix(self) -> str:
        return self.values["session"]["prefix"]

    @property
    def max_concurrent(self) -> int:
        return self.values["parallel"]["max_concurrent"]

    @property
    def state_dir(self) -> Path:
        """`worktree.dir`: worktrees, plus `.status/`, `.logs/` and `.run/` inside it."""
        return (self.root / self.values["worktree"]["dir"]).resolve()

    @property
    def status_dir(self) -> Path:
        return self.state_dir / ".status"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / ".logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / ".run"

    def session_name(self, issue: str) -> str:
        return f"{self.prefix}-issue-{key_name(issue)}"

    def issue_of_session(self, name: str) -> str | None:
        head = f"{self.prefix}-issue-"
        return key_from_name(name[len(head):]) if name.startswith(head) else None

    def log_path(self, issue: str) -> Path:
        return self.log_dir / f"issue-{key_name(issue)}.log"

    def exit_path(self, issue: str) -> Path:
        return self.log_dir / f"issue-{key_name(issue)}.exit"

    def signal_path(self, issue: str) -> Path:
        return self.run_dir / f"issue-{key_name(issue)}.signal"

    def run_spec_path(self, issue: str) -> Path:
        return self.run_dir / f"issue-{key_name(issue)}.json"

    def agent_command(self) -> list[str] | None:
        command = self.values["agent"]["command"]
        if isinstance(command, str):
            try:
                return shlex.split(command)
            except ValueError as exc:
                raise ConfigError(
                    f"configuration key 'agent.command' cannot be split: {exc}"
                ) from None
        return command


def find_repo_root(start: Path) -> Path:
    """The main repository's root, also when called from inside one of its worktrees."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
            cwd=start,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError, NotADirectoryError):
        raise UsageError(f"not a git repository: {start}") from None
    common = Path(out)
    return common.parent if common.name == ".git" else common


def find_config_file(root: Path) -> Path | None:
    for name in CONFIG_NAMES:
        candidate = root / name
        if candidate.is_file():
            return candidate
    return None


def read_raw_config(root: Path) -> tuple[Path | None, dict[str, Any]]:
    """Parse the config file with YAML's safe loader (no tags that build objects)."""
    import yaml

    path = find_config_file(root)
    if path is None:
        return None, {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(yaml_error_message(path.name, exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: cannot read: {exc}") from None
    if data is None:
        return path, {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: the top level must be a mapping of keys")
    return path, data


def build_config(
    root: Path, path: Path | None, raw: Mapping[str, Any], plugin_options: list[Mapping[str, Any]]
) -> Config:
    schema = merge_schemas(KERNEL_OPTIONS, *plugin_options)
    values = _validate(raw, schema, "")
    env_backend = os.environ.get("PIRUN_BACKEND")
    if env_backend:
        values["backend"] = env_backend
    return Config(root=root, path=path, values=values)
