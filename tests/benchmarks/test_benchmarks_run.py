"""Every benchmark still runs, at CI size, and reports what it measures.

The figures themselves are recorded in docs/performance.md; these tests assert the
shape of each report, never a wall-clock limit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_benchmark(name: str, *args: str, timeout: float = 300) -> dict:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True, text=True, timeout=timeout, cwd=BENCHMARKS.parent,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "{" in proc.stdout, proc.stdout[-2000:]
    report, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])
    return report


def test_planning_benchmark_layers_a_generated_graph() -> None:
    report = run_benchmark("bench_planning.py", "--size", "2000", "--repeat", "1")
    assert report["size"] == 2000
    assert report["layers"] > 1
    assert report["seconds"] > 0


def test_startup_benchmark_compares_commands_and_wrappers_with_a_bare_python() -> None:
    report = run_benchmark("bench_startup.py", "--quick")
    for command in ("version", "status", "list", "batch_dry_run_100"):
        assert report[command]["x_bare_python"] > 1, (command, report[command])
    assert report["wrapper"]["sessions"] == 2, report["wrapper"]
    assert report["wrapper"]["rss_mib_median"] > 0, report["wrapper"]


def test_github_benchmark_resolves_100_issues_in_at_most_3_requests() -> None:
    report = run_benchmark("bench_github_requests.py", "--size", "100")
    assert report["issues"] == 100
    assert report["requests"] <= 3


def test_conflict_benchmark_checks_only_what_moved() -> None:
    report = run_benchmark("bench_conflicts.py", "--size", "6", "--repeat", "1")
    # Branches 3 and 6 edit the same line of config.txt.
    assert [report[case]["conflicts"] for case in ("cold", "idle", "one_moved")] == [1, 1, 1]
    assert report["idle"]["git_calls"] == 1, f"an idle check ran git more than once: {report}"
    assert report["one_moved"]["git_calls"] < report["cold"]["git_calls"], report


@pytest.mark.slow
def test_detection_benchmark_compares_against_polling() -> None:
    report = run_benchmark("bench_detection.py", "--quick", "--backend", "process")
    assert "process" in json.dumps(report)


@pytest.mark.slow
def test_scheduler_benchmark_runs_a_small_batch() -> None:
    report = run_benchmark(
        "bench_scheduler.py", "--size", "12", "--layers", "2", "--max-concurrent", "4",
        "--backend", "process", "--no-baseline",
    )
    assert "process" in json.dumps(report)
