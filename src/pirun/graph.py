"""Dependency planning: order a batch of issues into layers that can run in parallel.

Pure functions over issue keys (strings, see `pirun.keys`), no I/O. Layer 0 holds
the issues with no blocker inside the batch; an issue sits in layer
``1 + max(layer of its in-batch blockers)``, so each issue runs as early as its
blockers allow. Blockers outside the batch are
ignored here: whether a closed or open outside blocker matters is the caller's call.

Everything is iterative (Kahn's algorithm, an upstream walk for cycles) so a chain
of thousands of issues never meets Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from pirun.errors import CircularDependency
from pirun.keys import display_key, sort_key

__all__ = ["Plan", "plan"]


@dataclass(frozen=True)
class Plan:
    """A batch in dependency order.

    `layers[k]` may all run once every earlier layer is done. `blockers` maps every
    issue of the batch to its blockers inside the batch (possibly empty).
    """

    layers: tuple[tuple[str, ...], ...]
    # A mapping is unhashable; leaving it out of the hash keeps Plan hashable while
    # equality still compares it (equal plans have equal layers, hence equal hashes).
    blockers: Mapping[str, frozenset[str]] = field(hash=False)

    # Lookups are derived on first use: planning itself never needs them, and a frozen
    # dataclass (no __slots__) still lets cached_property store into __dict__.
    @cached_property
    def _layer_index(self) -> dict[str, int]:
        return {key: k for k, layer in enumerate(self.layers) for key in layer}

    @cached_property
    def _dependents(self) -> dict[str, list[str]]:
        reverse: dict[str, list[str]] = {}
        for key, blocked_by in self.blockers.items():
            for blocker in blocked_by:
                reverse.setdefault(blocker, []).append(key)
        return reverse

    def layer_of(self, key: str) -> int:
        """The layer `key` runs in; KeyError if it is not part of the batch."""
        try:
            return self._layer_index[key]
        except KeyError:
            raise KeyError(f"{display_key(key)} is not in the planned batch") from None

    def dependents(self, key: str) -> set[str]:
        """Every issue of the batch that waits on `key`, directly or transitively."""
        if key not in self._layer_index:
            raise KeyError(f"{display_key(key)} is not in the planned batch")
        seen: set[str] = set()
        stack = list(self._dependents.get(key, ()))
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self._dependents.get(current, ()))
        return seen

    def order(self) -> list[str]:
        """All issues of the batch, layer by layer."""
        return [key for layer in self.layers for key in layer]


def plan(batch: Iterable[str], edges: Mapping[str, Iterable[str]]) -> Plan:
    """Layer `batch` by its in-batch blockers.

    `edges[x]` lists the keys that block `x`; keys outside the batch are ignored and
    duplicates in `batch` are dropped (first occurrence wins). Raises
    `CircularDependency` naming one cycle if the in-batch blockers are not acyclic.
    """
    members = list(dict.fromkeys(batch))
    # Work on list positions rather than keys: the layering loop touches every edge
    # several times, and an int index is cheaper than hashing a string each time.
    position = {key: i for i, key in enumerate(members)}
    count = len(members)

    blockers: dict[str, frozenset[str]] = {}
    waiting_on = [0] * count
    unblocks: list[list[int]] = [[] for _ in range(count)]
    for i, key in enumerate(members):
        own = {position[b] for b in edges.get(key, ()) if b in position}
        blockers[key] = frozenset(members[j] for j in own)
        waiting_on[i] = len(own)
        for j in own:
            unblocks[j].append(i)

    # Kahn's algorithm one frontier at a time: an issue joins the frontier when its
    # last blocker finishes, and that blocker sat in the previous layer, so every
    # issue lands in the lowest layer its blockers allow.
    layers: list[tuple[str, ...]] = []
    frontier = [i for i in range(count) if waiting_on[i] == 0]
    placed = 0
    while frontier:
        layers.append(tuple(sorted((members[i] for i in frontier), key=sort_key)))
        placed += len(frontier)
        done, frontier = frontier, []
        for j in done:
            for i in unblocks[j]:
                waiting_on[i] -= 1
                if waiting_on[i] == 0:
                    frontier.append(i)

    if placed != len(members):
        stuck = {members[i] for i in range(count) if waiting_on[i] > 0}
        raise CircularDependency([display_key(key) for key in _find_cycle(stuck, blockers)])

    return Plan(layers=tuple(layers), blockers=MappingProxyType(blockers))


def _find_cycle(
    stuck: set[str], blockers: Mapping[str, frozenset[str]]
) -> list[str]:
    """One cycle among `stuck`, as members closing on the first: ``[a, b, a]``.

    Each stuck issue still has a stuck blocker (else Kahn would have placed it), so
    walking upstream from any of them must revisit a node; the revisited stretch is a
    cycle. Each member is blocked by the next one. Choices are made in sorted order so
    the same graph always yields the same message.
    """
    # A self-blocker is the plainest cycle to report, so prefer it.
    for key in sorted(stuck, key=sort_key):
        if key in blockers[key]:
            return [key, key]

    path: list[str] = []
    position: dict[str, int] = {}
    current = min(stuck, key=sort_key)
    while current not in position:
        position[current] = len(path)
        path.append(current)
        current = min((b for b in blockers[current] if b in stuck), key=sort_key)

    cycle = path[position[current] :]
    # Start from the lowest-numbered member so the message does not depend on where
    # the walk happened to enter the cycle.
    pivot = cycle.index(min(cycle, key=sort_key))
    cycle = cycle[pivot:] + cycle[:pivot]
    return [*cycle, cycle[0]]
