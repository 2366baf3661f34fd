"""Per-run state for plugins: `config.stash[KEY]`, as pytest has `config.stash`.

A plugin that keeps something for the length of one command (a connection pool, an
issue cache) keeps it here, under a key only it holds, rather than in a module
global: two configurations in one process (tests, a front end serving several
repositories) never see each other's state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


class StashKey(Generic[T]):
    """A key of a `Stash`; create one per kind of value, at module level."""

    __slots__ = ()


class Stash:
    """A map from `StashKey[T]` to values of type T."""

    __slots__ = ("_storage",)

    def __init__(self) -> None:
        self._storage: dict[StashKey[Any], object] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._storage[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        return cast(T, self._storage[key])

    def get(self, key: StashKey[T], default: T) -> T:
        return cast(T, self._storage.get(key, default))

    def setdefault(self, key: StashKey[T], make: Callable[[], T]) -> T:
        """The value under `key`, made by calling `make` the first time."""
        if key not in self._storage:
            self._storage[key] = make()
        return cast(T, self._storage[key])

    def __delitem__(self, key: StashKey[T]) -> None:
        del self._storage[key]

    def __contains__(self, key: StashKey[T]) -> bool:
        return key in self._storage

    def __len__(self) -> int:
        return len(self._storage)
