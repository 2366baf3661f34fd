"""Named registries: the backends, trackers and status stores plugins provide.

Plugins register a factory under a name through a registrar hook
(`pirun_register_backends(register)`, in the style of llm's `register_models`);
`.pirun.yaml` picks one by name (`backend: tmux`), and only the chosen factory is
ever called. So the kernel can list what is installed, an unknown name is an error
that lists the known ones, and no plugin guards a factory with its own name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pluggy

from pirun.errors import ConfigError

T = TypeVar("T")

#: What a registrar hook is given: `register(name, factory)`, `factory(config)`
#: making the component.
Register = Callable[[str, Callable[..., Any]], None]


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    #: The plugin that registered it.
    plugin: str


@dataclass
class Registry(Generic[T]):
    """The components of one kind (`what`: "backend", "tracker", "status store")."""

    what: str
    entries: dict[str, Entry[T]] = field(default_factory=dict)

    def add(self, name: str, factory: Callable[..., T], plugin: str) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"plugin {plugin} registered a {self.what} without a name")
        taken = self.entries.get(name)
        if taken is not None and taken.plugin != plugin:
            raise ConfigError(
                f"{self.what} '{name}' is registered by two plugins: {taken.plugin} and "
                f"{plugin} (disable one with -p no:NAME)"
            )
        self.entries[name] = Entry(name, factory, plugin)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def get(self, name: str, key: str) -> Entry[T]:
        """The entry named `name`, chosen by configuration key `key`; a one-line
        ConfigError listing the installed names when there is none."""
        entry = self.entries.get(name)
        if entry is None:
            installed = ", ".join(self.names()) or "none"
            raise ConfigError(
                f"unknown {self.what} '{name}' in '{key}' (installed: {installed}; "
                "see `pirun plugins`)"
            )
        return entry


def collect(pm: pluggy.PluginManager, hook_name: str, what: str) -> Registry[Any]:
    """Call registrar hook `hook_name` of every plugin, each with a `register` that
    remembers which plugin it belongs to (for errors and `pirun plugins`)."""
    registry: Registry[Any] = Registry(what)
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():

        def register(name: str, factory: Callable[..., Any], plugin: str = impl.plugin_name
                     ) -> None:
            registry.add(name, factory, plugin)

        impl.function(register=register)
    return registry
