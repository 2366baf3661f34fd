"""Dependency planning: order a batch of issues into layers that can run in parallel.

Pure functions over `IssueRef`s, no I/O. Layer 0 holds the issues with no blocker
inside the batch; an issue sits in layer ``1 + max(layer of its in-batch blockers)``,
so each issue runs as early as its blockers allow. Blockers outside the batch are
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
from pirun.model import IssueRef

__all__ = ["Plan", "plan"]


def _sort_key(ref: IssueRef) -> tuple[int, str]:
    # Users think in issue numbers, so order by number first; repo only breaks ties.
    return (ref.number, ref.repo)


@dataclass(frozen=True)
class Plan:
    """A batch in dependency order.

    `layers[k]` may all run once every earlier layer is done. `blockers` maps every
    issue of the batch to its blockers inside the batch (possibly empty).
    """

    layers: tuple[tuple[IssueRef, ...], ...]
    # A mapping is unhashable; leaving it out of the hash keeps Plan hashable while
    # equality still compares it (equal plans have equal layers, hence equal hashes).
    blockers: Mapping[IssueRef, frozenset[IssueRef]] = field(hash=False)

    # Lookups are derived on first use: planning itself never needs them, and a frozen
    # dataclass (no __slots__) still lets cached_property store into __dict__.
    @cached_property
    def _layer_index(self) -> dict[IssueRef, int]:
        return {ref: k for k, layer in enumerate(self.layers) for ref in layer}

    @cached_property
    def _dependents(self) -> dict[IssueRef, list[IssueRef]]:
        reverse: dict[IssueRef, list[IssueRef]] = {}
        for ref, blocked_by in self.blockers.items():
            for blocker in blocked_by:
                reverse.setdefault(blocker, []).append(ref)
        return reverse

    def layer_of(self, ref: IssueRef) -> int:
        """The layer `ref` runs in; KeyError if it is not part of the batch."""
        try:
            return self._layer_index[ref]
        except KeyError:
            raise KeyError(f"{ref} is not in the planned batch") from None

    def dependents(self, ref: IssueRef) -> set[IssueRef]:
        """Every issue of the batch that waits on `ref`, directly or transitively."""
        if ref not in self._layer_index:
            raise KeyError(f"{ref} is not in the planned batch")
        seen: set[IssueRef] = set()
        stack = list(self._dependents.get(ref, ()))
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self._dependents.get(current, ()))
        return seen

    def order(self) -> list[IssueRef]:
        """All issues of the batch, layer by layer."""
        return [ref for layer in self.layers for ref in layer]


def plan(batch: Iterable[IssueRef], edges: Mapping[IssueRef, Iterable[IssueRef]]) -> Plan:
    """Layer `batch` by its in-batch blockers.

    `edges[x]` lists the refs that block `x`; refs outside the batch are ignored and
    duplicates in `batch` are dropped (first occurrence wins). Raises
    `CircularDependency` naming one cycle if the in-batch blockers are not acyclic.
    """
    members = list(dict.fromkeys(batch))
    # Work on list positions rather than IssueRefs: a dataclass hash is a Python-level
    # call, and the layering loop would otherwise pay it on every edge several times.
    position = {ref: i for i, ref in enumerate(members)}
    count = len(members)

    blockers: dict[IssueRef, frozenset[IssueRef]] = {}
    waiting_on = [0] * count
    unblocks: list[list[int]] = [[] for _ in range(count)]
    for i, ref in enumerate(members):
        own = {position[b] for b in edges.get(ref, ()) if b in position}
        blockers[ref] = frozenset(members[j] for j in own)
        waiting_on[i] = len(own)
        for j in own:
            unblocks[j].append(i)

    # Kahn's algorithm one frontier at a time: an issue joins the frontier when its
    # last blocker finishes, and that blocker sat in the previous layer, so every
    # issue lands in the lowest layer its blockers allow.
    layers: list[tuple[IssueRef, ...]] = []
    frontier = [i for i in range(count) if waiting_on[i] == 0]
    placed = 0
    while frontier:
        layers.append(tuple(sorted((members[i] for i in frontier), key=_sort_key)))
        placed += len(frontier)
        done, frontier = frontier, []
        for j in done:
            for i in unblocks[j]:
                waiting_on[i] -= 1
                if waiting_on[i] == 0:
                    frontier.append(i)

    if placed != len(members):
        stuck = {members[i] for i in range(count) if waiting_on[i] > 0}
        raise CircularDependency([str(ref) for ref in _find_cycle(stuck, blockers)])

    return Plan(layers=tuple(layers), blockers=MappingProxyType(blockers))


def _find_cycle(
    stuck: set[IssueRef], blockers: Mapping[IssueRef, frozenset[IssueRef]]
) -> list[IssueRef]:
    """One cycle among `stuck`, as members closing on the first: ``[a, b, a]``.

    Each stuck issue still has a stuck blocker (else Kahn would have placed it), so
    walking upstream from any of them must revisit a node; the revisited stretch is a
    cycle. Each member is blocked by the next one. Choices are made in sorted order so
    the same graph always yields the same message.
    """
    # A self-blocker is the plainest cycle to report, so prefer it.
    for ref in sorted(stuck, key=_sort_key):
        if ref in blockers[ref]:
            return [ref, ref]

    path: list[IssueRef] = []
    position: dict[IssueRef, int] = {}
    current = min(stuck, key=_sort_key)
    while current not in position:
        position[current] = len(path)
        path.append(current)
        current = min((b for b in blockers[current] if b in stuck), key=_sort_key)

    cycle = path[position[current] :]
    # Start from the lowest-numbered member so the message does not depend on where
    # the walk happened to enter the cycle.
    pivot = cycle.index(min(cycle, key=_sort_key))
    cycle = cycle[pivot:] + cycle[:pivot]
    return [*cycle, cycle[0]]
