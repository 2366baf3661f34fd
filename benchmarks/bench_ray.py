"""Scheduler overhead per issue: the Ray backend against the process backend.

Usage: python benchmarks/bench_ray.py [--size 200] [--layers 4] [--max-concurrent 4]
       [--address http://HEAD:8265] [--backend process --backend ray]

For each backend, in a fresh throwaway repository (local issues in dependency
layers, a bare repository as `origin`), runs the real `pirun batch --json` with an
agent that exits at once (`true`), so every second measured is pirun's and, for
Ray, the Ray job's: worktree, session, exec wrapper, status record, scheduling,
plus under Ray the job proxy, the job submission, Ray's job supervisor, the clone
on the node and the push of the branch.

Without --address, a local Ray cluster is started for the run (a head and a worker
node, `pirun_agent: 2` each, as separate `ray start` processes, like the tests) and
stopped afterwards. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from benchutil import GIT_ENV, git, init_bench_repo

HERE = Path(__file__).resolve().parent


def layered_graph(size: int, layers: int) -> dict[int, list[int]]:
    """Issues 1..size in `layers` layers; each issue after the first layer is blocked
    by the issue at the same position of the layer before (or its last one)."""
    width = max(1, -(-size // layers))
    graph: dict[int, list[int]] = {}
    for number in range(1, size + 1):
        index = number - 1
        layer, position = divmod(index, width)
        if layer == 0:
            graph[number] = []
        else:
            previous = (layer - 1) * width + min(position, width - 1) + 1
            graph[number] = [previous]
    return graph


def make_repo(directory: Path, graph: dict[int, list[int]], config: dict[str, Any]) -> Path:
    bare, repo = directory / "remote.git", directory / "repo"
    directory.mkdir(parents=True)
    git(directory, "init", "-q", "--bare", "-b", "main", str(bare))
    init_bench_repo(repo)
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    issues = repo / ".pirun" / "issues"
    issues.mkdir(parents=True)
    for number, blockers in graph.items():
        front = {"title": f"Issue {number}", "state": "open", "blocked_by": blockers}
        (issues / f"{number}.md").write_text(
            "---\n" + yaml.safe_dump(front) + "---\nNothing to do.\n", encoding="utf-8")
    (repo / ".pirun.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return repo


def quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "max": round(ordered[-1], 3),
    }


def ray_jobs(address: str, repo: Path) -> list[Any]:
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(address)
    return [job for job in client.list_jobs()
            if (job.metadata or {}).get("pirun_repo") == str(repo)]


def run_batch(backend: str, graph: dict[int, list[int]], args: argparse.Namespace,
              address: str | None, work: Path) -> dict[str, Any]:
    config: dict[str, Any] = {
        "tracker": "local",
        "backend": backend,
        "agent": {"command": ["true"]},
        "parallel": {"max_concurrent": args.max_concurrent},
    }
    if backend == "ray":
        config["ray"] = {"address": address, "python": args.node_python}
    repo = make_repo(work / backend, graph, config)
    env = {**os.environ, **GIT_ENV}
    for name in ("PIRUN_BACKEND", "PIRUN_PLUGINS"):
        env.pop(name, None)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pirun", "batch", *map(str, graph), "--json",
         "--timeout", str(args.timeout)],
        cwd=repo, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    wall = time.monotonic() - start
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise SystemExit(f"{backend}: pirun batch failed ({proc.returncode}): "
                         f"{proc.stderr.strip()[-2000:]}") from None
    items = data["results"]
    complete = sum(1 for item in items if item["state"] == "complete")
    result: dict[str, Any] = {
        "exit_code": proc.returncode,
        "complete": complete,
        "wall_s": round(wall, 2),
        "wall_per_issue_s": round(wall / len(graph), 3),
        # From the batch starting an issue to the batch seeing it finished: with an
        # agent that exits at once, all of it is overhead.
        "issue_latency_s": quantiles(
            [item["elapsed"] for item in items if item["elapsed"] is not None]),
    }
    if backend == "ray" and address:
        jobs = ray_jobs(address, repo)
        result["ray_jobs"] = len(jobs)
        result["ray_job_duration_s"] = quantiles(
            [(job.end_time - job.start_time) / 1000 for job in jobs
             if job.end_time and job.start_time])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--max-concurrent", type=int, default=4)
    parser.add_argument("--address", help="an existing Ray cluster's dashboard URL")
    parser.add_argument("--backend", action="append", choices=["process", "ray"])
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--node-python", default=sys.executable,
                        help="Python on the nodes (default: this one, for a local cluster)")
    args = parser.parse_args()
    backends = args.backend or ["process", "ray"]
    graph = layered_graph(args.size, args.layers)
    cluster = None
    address = args.address
    report: dict[str, Any] = {
        "benchmark": "ray_vs_process_scheduler_overhead",
        "size": args.size,
        "layers": args.layers,
        "max_concurrent": args.max_concurrent,
        "cpus": os.cpu_count(),
        "results": {},
    }
    with tempfile.TemporaryDirectory(prefix="pirun-bench-ray-") as tmp:
        try:
            if "ray" in backends and not address:
                sys.path.insert(0, str(HERE.parent / "tests" / "plugins" / "ray"))
                from raycluster import Cluster

                cluster = Cluster(Path(tempfile.mkdtemp(prefix="pirun-ray-")))
                started = time.monotonic()
                cluster.start_head({"pirun_agent": 2})
                cluster.add_worker("worker", {"pirun_agent": 2})
                cluster.wait_for_nodes(2)
                report["cluster"] = {"nodes": 2, "pirun_agent_per_node": 2,
                                     "start_s": round(time.monotonic() - started, 1)}
                address = cluster.dashboard_url
            for backend in backends:
                report["results"][backend] = run_batch(backend, graph, args, address,
                                                       Path(tmp))
        finally:
            if cluster is not None:
                cluster.stop()
    results = report["results"]
    if "process" in results and "ray" in results:
        report["ray_extra_per_issue_s"] = round(
            results["ray"]["wall_per_issue_s"] - results["process"]["wall_per_issue_s"], 3)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
