"""Detection latency: from the agent printing its completion marker to `complete` on disk.

Usage: python benchmarks/bench_detection.py [--size 20] [--backend process --backend tmux]
       [--interval 5] [--spread 20] [--quick]

For each backend, in a throwaway repository, starts --size real sessions (pirun's own
`launch`: worktree, session, exec wrapper) of a small agent that, once told to go,
waits its turn (the turns are spread over --spread seconds), writes a
high-resolution timestamp to a file and prints `###TASK_COMPLETE_<N>###` at once.

* pirun: the exec wrapper sees the marker in the output stream and writes the status
  record itself. The benchmark watches the status files in a 1 ms loop and notes
  when each says `complete`.
* baseline: the way the seed's Bash found out, one loop per session started with
  it: every --interval seconds (5) `tmux capture-pane -p` (tmux) or `cat` of the
  log (process), `grep -q` for the marker, `sleep`. It notes the time it found it.

Latency = noted time - the agent's timestamp. Prints one JSON object with the median,
p95 and max of both, and the ratio of the medians. `--quick` (CI): 6 sessions per
backend, spread over 6 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchutil import init_session_repo, wait_until_gone

#: argv: ISSUE WORKDIR. Waits for WORKDIR/go, then its delay (WORKDIR/delays.json),
#: stamps, prints the marker, and stays (like an agent back at its prompt) until
#: WORKDIR/release.
AGENT = r'''
import json, os, sys, time
issue, work = sys.argv[1], sys.argv[2]
with open(os.path.join(work, "delays.json")) as handle:
    delay = json.load(handle)[issue]
print(f"bench agent on #{issue}", flush=True)
while not os.path.exists(os.path.join(work, "go")):
    time.sleep(0.01)
time.sleep(delay)
stamp = time.time()
with open(os.path.join(work, f"{issue}.stamp"), "w") as handle:
    handle.write(repr(stamp))
print(f"###TASK_COMPLETE_{issue}###", flush=True)
deadline = time.monotonic() + 600
while not os.path.exists(os.path.join(work, "release")) and time.monotonic() < deadline:
    time.sleep(0.1)
'''

#: The seed's watcher, one per session: $1 = how to read the output, $2 = marker,
#: $3 = interval, $4 = where to note the time it found the marker.
BASELINE = r'''
while ! eval "$1" 2>/dev/null | grep -q -- "$2"; do sleep "$3"; done
date +%s.%N > "$4"
'''


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "samples": len(values),
        "median_seconds": round(statistics.median(values), 4),
        "mean_seconds": round(statistics.fmean(values), 4),
        "p95_seconds": round(percentile(values, 0.95), 4),
        "max_seconds": round(max(values), 4),
    }


def make_repo(path: Path, size: int, backend: str, socket: str, work: Path,
              delays: dict[int, float]) -> None:
    agent = work / "agent.py"
    agent.write_text(AGENT)
    (work / "delays.json").write_text(json.dumps(delays))
    command = [sys.executable, str(agent), "{issue}", str(work)]
    init_session_repo(path, size, backend, socket, command, "Benchmark.")


def measure(backend: str, size: int, interval: float, spread: float) -> dict[str, Any]:
    from pirun.launch import LaunchOptions, launch
    from pirun.log import configure_logging
    from pirun.runtime import Runtime

    configure_logging(0, json_output=False)
    # A process that outlives `wait_until_gone` must not fail the run after measuring.
    with tempfile.TemporaryDirectory(prefix="pirun-bench-detection-",
                                     ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        socket = f"pirun-bench-{os.getpid()}-{backend}"
        # Turns evenly over the spread, so markers rarely meet, at a phase that has
        # nothing to do with the baseline's ticks.
        delays = {n: 0.5 + spread * (n - 1) / size for n in range(1, size + 1)}
        make_repo(root / "repo", size, backend, socket, work, delays)
        pollers: list[subprocess.Popen[bytes]] = []
        rt = Runtime.load(root / "repo")
        config = rt.config
        try:
            for number in range(1, size + 1):
                launch(rt, rt.fetch_issue(str(number)), LaunchOptions(ignore_blockers=True))
                session = config.session_name(str(number))
                if backend == "tmux":
                    read = f"tmux -L {socket} capture-pane -p -t ={session}:"
                else:
                    read = f"cat {config.log_path(str(number))}"
                pollers.append(subprocess.Popen(
                    ["bash", "-c", BASELINE, "baseline", read,
                     f"###TASK_COMPLETE_{number}###", f"{interval:g}",
                     str(work / f"{number}.baseline")],
                ))
            # Every session up and showing its first line before the clock starts.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(
                config.log_path(str(n)).exists() and config.log_path(str(n)).stat().st_size
                for n in range(1, size + 1)
            ):
                time.sleep(0.05)
            (work / "go").touch()

            seen: dict[int, float] = {}
            status_files = {n: config.status_dir / f"{n}.json" for n in range(1, size + 1)}
            deadline = time.monotonic() + spread + 60
            while len(seen) < size and time.monotonic() < deadline:
                for number, path in status_files.items():
                    if number in seen:
                        continue
                    try:
                        text = path.read_text()
                    except OSError:
                        continue
                    if '"complete"' in text:
                        seen[number] = time.time()
                time.sleep(0.001)
            for poller in pollers:
                poller.wait(timeout=interval + 60)

            stamps = {n: float((work / f"{n}.stamp").read_text()) for n in range(1, size + 1)}
            pirun = [seen[n] - stamps[n] for n in sorted(seen)]
            baseline = [
                float((work / f"{n}.baseline").read_text()) - stamps[n]
                for n in range(1, size + 1)
            ]
            if len(pirun) < size:
                raise SystemExit(f"{size - len(pirun)} sessions never recorded complete")
        finally:
            (work / "release").touch()
            for poller in pollers:
                if poller.poll() is None:
                    poller.kill()
                    poller.wait()
            if backend == "tmux":
                time.sleep(0.3)
                subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
            else:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and rt.backend.list(config.prefix):
                    time.sleep(0.1)
            wait_until_gone(root)
    result = {"pirun": summary(pirun), "baseline": summary(baseline)}
    result["baseline"]["interval_seconds"] = interval
    result["median_ratio"] = round(
        result["baseline"]["median_seconds"] / max(result["pirun"]["median_seconds"], 1e-6), 1
    )
    result["goal_median_under_0_2_s"] = result["pirun"]["median_seconds"] < 0.2
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20, help="sessions per backend")
    parser.add_argument("--backend", action="append", choices=["process", "tmux"])
    parser.add_argument("--interval", type=float, default=5.0, help="baseline poll interval")
    parser.add_argument("--spread", type=float, default=20.0,
                        help="seconds over which the markers are printed")
    parser.add_argument("--quick", action="store_true", help="6 sessions over 6 s")
    args = parser.parse_args()
    if args.quick:
        args.size, args.spread = 6, 6.0
    backends = args.backend or (["process", "tmux"] if shutil.which("tmux") else ["process"])
    report: dict[str, Any] = {
        "benchmark": "detection",
        "size": args.size,
        "cpus": os.cpu_count(),
        "backends": {b: measure(b, args.size, args.interval, args.spread) for b in backends},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
