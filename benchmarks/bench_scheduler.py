"""Scheduler overhead: a batch of issues in dependency layers whose agent exits at once.

Usage: python benchmarks/bench_scheduler.py [--size 200] [--layers 10]
       [--max-concurrent 20] [--backend process --backend tmux] [--quick] [--no-baseline]

For each backend, in a fresh throwaway repository with local issues, runs the real
`pirun batch` (agent `true`, so all the time is pirun's: worktree, session, exec
wrapper, status record, scheduling) and reports its wall time and the wall time per
issue. The baseline, in another fresh repository, starts the same sessions the same
way (pirun's own `launch`) but schedules like the seed's Bash: one layer at a time,
at most --max-concurrent sessions, and it learns that sessions finished by looking
every --poll seconds (5, like the seed's `sleep 5`).

Prints one JSON object. `--quick` is the CI size: 20 issues in 2 layers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from benchutil import init_bench_repo


def layered_graph(size: int, layers: int, seed: int) -> dict[int, list[int]]:
    """Issues 1..size in `layers` layers of (about) equal width; each issue of layer
    k > 0 is blocked by one or two issues of layer k-1, so it lands exactly in k."""
    rng = random.Random(seed)
    width = max(1, size // layers)
    by_layer = [list(range(k * width + 1, min(size, (k + 1) * width) + 1)) for k in range(layers)]
    by_layer[-1].extend(range(layers * width + 1, size + 1))
    graph: dict[int, list[int]] = {}
    for k, numbers in enumerate(by_layer):
        for number in numbers:
            previous = by_layer[k - 1] if k else []
            graph[number] = sorted(rng.sample(previous, min(len(previous), rng.randint(1, 2))))
    return graph


def make_repo(path: Path, graph: dict[int, list[int]], backend: str, max_concurrent: int,
              socket: str) -> None:
    init_bench_repo(path)
    config: dict[str, Any] = {
        "tracker": "local",
        "backend": backend,
        "agent": {"command": ["true"]},
        "parallel": {"max_concurrent": max_concurrent},
    }
    if backend == "tmux":
        config["tmux"] = {"socket_name": socket}
    (path / ".pirun.yaml").write_text(yaml.safe_dump(config))
    issues = path / ".pirun" / "issues"
    issues.mkdir(parents=True)
    for number, blockers in graph.items():
        front = yaml.safe_dump({"title": f"Issue {number}", "blocked_by": blockers})
        (issues / f"{number}.md").write_text(f"---\n{front}---\nNothing to do.\n")


def run_pirun(repo: Path, numbers: list[int]) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pirun", "batch", *map(str, numbers), "--json"],
        cwd=repo, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"pirun batch failed ({proc.returncode}): {proc.stderr[-2000:]}")
    results = json.loads(proc.stdout)["results"]
    inside = max(r["finished"] for r in results) - min(r["started"] for r in results)
    return {
        "wall_seconds": round(wall, 3),
        "per_issue_ms": round(wall / len(numbers) * 1000, 2),
        "scheduling_seconds": round(inside, 3),
        "all_complete": all(r["state"] == "complete" for r in results),
    }


def run_baseline(repo: Path, graph: dict[int, list[int]], max_concurrent: int,
                 poll: float) -> dict[str, Any]:
    """The seed's way: a layer at a time, poll every `poll` s for finished sessions."""
    from pirun.graph import plan
    from pirun.launch import LaunchOptions, launch
    from pirun.log import configure_logging
    from pirun.model import Status
    from pirun.runtime import Runtime

    configure_logging(0, json_output=False)
    start = time.perf_counter()
    rt = Runtime.load(repo)
    keys = [str(n) for n in graph]
    layers = plan(keys, {str(n): [str(b) for b in bs] for n, bs in graph.items()}).layers
    issues = rt.fetch_issues(keys)
    options = LaunchOptions(ignore_blockers=True)
    for layer in layers:
        waiting = [issues[key] for key in layer]
        running: list[str] = []
        while waiting or running:
            while waiting and len(running) < max_concurrent:
                issue = waiting.pop(0)
                launch(rt, issue, options)
                running.append(issue.key)
            time.sleep(poll)
            running = [
                n for n in running
                if (record := rt.store.get(n)) is None or record.status is Status.RUNNING
            ]
    wall = time.perf_counter() - start
    complete = all(
        (record := rt.store.get(key)) is not None and record.status is Status.COMPLETE
        for key in keys
    )
    return {
        "wall_seconds": round(wall, 3),
        "per_issue_ms": round(wall / len(graph) * 1000, 2),
        "all_complete": complete,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--max-concurrent", type=int, default=20)
    parser.add_argument("--backend", action="append", choices=["process", "tmux"])
    parser.add_argument("--poll", type=float, default=5.0, help="baseline polling interval")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--quick", action="store_true", help="20 issues in 2 layers")
    args = parser.parse_args()
    if args.quick:
        args.size, args.layers = 20, 2
    backends = args.backend or (["process", "tmux"] if shutil.which("tmux") else ["process"])
    graph = layered_graph(args.size, args.layers, args.seed)
    numbers = list(graph)
    random.Random(args.seed).shuffle(numbers)  # the order users type is not the plan's

    report: dict[str, Any] = {
        "benchmark": "scheduler",
        "size": args.size,
        "layers": args.layers,
        "max_concurrent": args.max_concurrent,
        "agent": "true",
        "cpus": os.cpu_count(),
        "backends": {},
    }
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="pirun-bench-scheduler-") as tmp:
            root = Path(tmp)
            socket = f"pirun-bench-{os.getpid()}-{backend}"
            try:
                make_repo(root / "pirun", graph, backend, args.max_concurrent, socket)
                result: dict[str, Any] = {"pirun": run_pirun(root / "pirun", numbers)}
                if not args.no_baseline:
                    make_repo(root / "baseline", graph, backend, args.max_concurrent, socket)
                    result["baseline"] = run_baseline(
                        root / "baseline", graph, args.max_concurrent, args.poll
                    )
                    result["baseline"]["poll_seconds"] = args.poll
                    result["speedup"] = round(
                        result["baseline"]["wall_seconds"] / result["pirun"]["wall_seconds"], 2
                    )
            finally:
                if backend == "tmux":
                    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        report["backends"][backend] = result
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
