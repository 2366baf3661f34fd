"""Building the plugin manager: entry points, config `plugins:`, `disable:` and `-p no:NAME`."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pluggy

from pirun import hookspecs
from pirun.entrypoints import EntryPoint, installed_entry_points
from pirun.errors import ConfigError

ENTRY_POINT_GROUP = "pirun"
#: The start of the module name a repository's `.py` plugin is loaded under.
REPO_PLUGIN_MODULE = "pirun_repo_plugin_"


@dataclass(frozen=True)
class PluginRef:
    """Where a registered plugin comes from, so another process can load the same
    set without scanning entry points: an importable module, or a repository's
    `.py` file."""

    name: str
    module: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class PluginInfo:
    name: str
    source: str
    hooks: tuple[str, ...]


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("pirun")
    pm.add_hookspecs(hookspecs)
    return pm


def repo_plugin_name(entry: str) -> str:
    """The name a `plugins:` entry registers under (and `-p no:NAME` disables): a
    `.py` file's stem, or the module's name."""
    return Path(entry).stem if entry.endswith(".py") else entry


def _load_repo_plugin(entry: str, root: Path) -> ModuleType:
    """A `plugins:` entry: a `.py` path relative to the repo, or an importable module."""
    if entry.endswith(".py"):
        path = (root / entry).resolve()
        if not path.is_file():
            raise ConfigError(f"plugin file not found: {entry}")
        # The same file gets the same module name in every process (the exec wrapper
        # and the CLI), and two files with one stem never share a module.
        import hashlib  # on first use: it loads OpenSSL, 3 MiB in every exec wrapper

        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        stem = re.sub(r"\W", "_", path.stem)
        module_name = f"{REPO_PLUGIN_MODULE}{stem}_{digest}"
        if module_name in sys.modules:
            return sys.modules[module_name]
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot load plugin file: {entry}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise ConfigError(f"plugin {entry} failed to load: {exc}") from None
        return module
    try:
        return importlib.import_module(entry)
    except ImportError as exc:
        raise ConfigError(f"plugin module '{entry}' cannot be imported: {exc}") from None


def _load_installed(pm: pluggy.PluginManager, disabled: Iterable[str]) -> None:
    """The `pirun` entry points, less the disabled ones.

    `PIRUN_PLUGINS` (comma-separated entry-point names) restricts which installed
    plugins load, as `LLM_LOAD_PLUGINS` does for llm; empty means none.
    """
    for name in disabled:
        pm.set_blocked(name)
    only = os.environ.get("PIRUN_PLUGINS")
    wanted = None if only is None else {part.strip() for part in only.split(",")}
    # As pluggy's load_setuptools_entrypoints, from the cached list of entry points.
    for entry in installed_entry_points(ENTRY_POINT_GROUP):
        if wanted is not None and entry.name not in wanted:
            continue
        if pm.has_plugin(entry.name) or pm.is_blocked(entry.name):
            continue
        try:
            plugin = entry.load()
        except ImportError as exc:
            raise ConfigError(
                f"installed plugin '{entry.name}' ({entry.dist}) cannot be imported: {exc}"
            ) from None
        pm.register(plugin, name=entry.name)


def installed_plugins(disabled: Iterable[str] = ()) -> pluggy.PluginManager:
    """A plugin manager with the installed plugins only: what is known without a
    repository's configuration (to list commands when it cannot be read)."""
    pm = new_plugin_manager()
    _load_installed(pm, disabled)
    return pm


def load_plugins(
    pm: pluggy.PluginManager,
    root: Path,
    repo_plugins: Iterable[str],
    disabled: Iterable[str],
) -> None:
    """Register every plugin: the installed ones, then the repository's `plugins:`.

    A repository plugin whose name another plugin has is a configuration error
    naming both (silently skipping either would lose its hooks); listing an
    installed plugin's module again is harmless.
    """
    _load_installed(pm, disabled)
    for entry in dict.fromkeys(repo_plugins):
        name = repo_plugin_name(entry)
        if pm.is_blocked(name):
            continue
        module = _load_repo_plugin(entry, root)
        if pm.is_registered(module):
            continue
        taken = pm.get_plugin(name)
        if taken is not None:
            where = getattr(taken, "__file__", None) or repr(taken)
            raise ConfigError(
                f"plugin '{entry}' is named '{name}' like the installed plugin '{name}' "
                f"({where}); rename the file or module"
            )
        pm.register(module, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigError(f"plugin error: {exc}") from None


def plugin_refs(pm: pluggy.PluginManager) -> list[PluginRef] | None:
    """The registered plugins as references, in registration order; None when one of
    them is not a module (an object a test or an embedding program registered)."""
    refs = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        if not isinstance(plugin, ModuleType):
            return None
        module = plugin.__name__
        if module.startswith(REPO_PLUGIN_MODULE):
            refs.append(PluginRef(name, file=plugin.__file__))
        else:
            refs.append(PluginRef(name, module=module))
    return refs


def load_plugin_refs(pm: pluggy.PluginManager, refs: Iterable[PluginRef]) -> None:
    """Register exactly the plugins `refs` name (see `plugin_refs`)."""
    for ref in refs:
        if ref.file is not None:
            module = _load_repo_plugin(ref.file, Path(ref.file).parent)
        else:
            try:
                module = importlib.import_module(ref.module or ref.name)
            except ImportError as exc:
                raise ConfigError(f"plugin '{ref.name}' cannot be imported: {exc}") from None
        pm.register(module, name=ref.name)


def _loads(entry: EntryPoint, plugin: object) -> bool:
    """Whether `plugin` is what `entry` names (a repository plugin may share its name)."""
    try:
        return entry.load() is plugin
    except (ImportError, AttributeError):
        return False


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    entries = {entry.name: entry for entry in installed_entry_points(ENTRY_POINT_GROUP)}
    infos = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:
            continue
        entry = entries.get(name)
        if entry is not None and _loads(entry, plugin):
            source = f"entry point ({entry.dist} {entry.version})"
        else:
            source = getattr(plugin, "__file__", None) or "registered"
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or []))
        infos.append(PluginInfo(name=name, source=str(source), hooks=hooks))
    return infos
