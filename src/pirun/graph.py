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
    _layer_index: dict[IssueRef, int] = field(init=False, repr=False, compare=False, hash=False)
    _dependents: dict[IssueRef, tuple[IssueRef, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        index = {ref: k for k, layer in enumerate(self.layers) for ref in layer}
        reverse: dict[IssueRef, list[IssueRef]] = {ref: [] for ref in index}
        for ref, blocked_by in self.blockers.items():
            for blocker in blocked_by:
                reverse.setdefault(blocker, []).append(ref)
        # Frozen dataclass: derived lookups are set once here, never mutated later.
        object.__setattr__(self, "_layer_index", index)
        object.__setattr__(self, "_dependents", {ref: tuple(deps) for ref, deps in reverse.items()})

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
    in_batch = set(members)

    blockers: dict[IssueRef, frozenset[IssueRef]] = {}
    waiting_on: dict[IssueRef, int] = {}
    unblocks: dict[IssueRef, list[IssueRef]] = {ref: [] for ref in members}
    for ref in members:
        own = frozenset(b for b in edges.get(ref, ()) if b in in_batch)
        blockers[ref] = own
        waiting_on[ref] = len(own)
        for blocker in own:
            unblocks[blocker].append(ref)

    # Kahn's algorithm one frontier at a time: an issue joins the frontier when its
    # last blocker finishes, and that blocker sat in the previous layer, so every
    # issue lands in the lowest layer its blockers allow.
    layers: list[tuple[IssueRef, ...]] = []
    frontier = [ref for ref in members if waiting_on[ref] == 0]
    placed = 0
    while frontier:
        layer = tuple(sorted(frontier, key=_sort_key))
        layers.append(layer)
        placed += len(layer)
        frontier = []
        for done in layer:
            for ref in unblocks[done]:
                waiting_on[ref] -= 1
                if waiting_on[ref] == 0:
                    frontier.append(ref)

    if placed != len(members):
        stuck = {ref for ref, count in waiting_on.items() if count > 0}
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
