"""Time `pirun.graph.plan` on a random layered DAG.

Usage: python benchmarks/bench_planning.py [--size N] [--edges-per-issue K] [--seed S]

Prints one JSON line: size, edges, seconds (best of --repeat runs of `plan`), layers,
and lookup_seconds (first `layer_of` + `dependents` call, which builds the Plan's
lazily derived indexes).
"""

from __future__ import annotations

import argparse
import json
import random
import time

from pirun.graph import plan


def layered_dag(
    size: int, edges_per_issue: int, seed: int
) -> tuple[list[str], dict[str, list[str]]]:
    """`size` issues spread over ~sqrt(size) levels, each blocked by earlier-level issues."""
    rng = random.Random(seed)
    refs = [str(n) for n in range(1, size + 1)]
    levels = max(1, int(size**0.5))
    level_of = {r: rng.randrange(levels) for r in refs}
    by_level: list[list[str]] = [[] for _ in range(levels)]
    for r in refs:
        by_level[level_of[r]].append(r)
    earlier: list[str] = []
    edges: dict[str, list[str]] = {}
    for level in by_level:
        for r in level:
            if earlier:
                edges[r] = [rng.choice(earlier) for _ in range(edges_per_issue)]
        earlier.extend(level)
    # Callers see issues in tracker order, not dependency order.
    rng.shuffle(refs)
    return refs, edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--edges-per-issue", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    batch, edges = layered_dag(args.size, args.edges_per_issue, args.seed)
    best = float("inf")
    result = None
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        result = plan(batch, edges)
        best = min(best, time.perf_counter() - start)
    assert result is not None
    start = time.perf_counter()
    result.layer_of(batch[0])
    result.dependents(batch[0])
    lookup = time.perf_counter() - start
    print(
        json.dumps(
            {
                "size": args.size,
                "edges": sum(len(blockers) for blockers in edges.values()),
                "seconds": round(best, 6),
                "layers": len(result.layers),
                "lookup_seconds": round(lookup, 6),
            }
        )
    )


if __name__ == "__main__":
    main()
