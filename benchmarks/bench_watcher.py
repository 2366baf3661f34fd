"""Watcher cost: CPU time to watch idle sessions, pirun's one watcher vs a poller each.

Usage: python benchmarks/bench_watcher.py [--size 50] [--window 60] [--interval 5]
       [--backend tmux|process] [--quick]

Starts --size real sessions (pirun's own `launch`) of an idle agent (`sleep`), then,
one after the other, for --window seconds each after a short warm-up:

* pirun: one `pirun wait 1 .. N` process (status-file notifications, reconcile every
  --interval seconds). CPU = its utime+stime plus those of the children it reaped
  (`tmux list-sessions`), from /proc/PID/stat.
* baseline: one Bash loop per session, the seed's way:
  `while true; do tmux capture-pane -p -t S | grep -q MARKER && break; sleep 5; done`
  (process backend: `grep -q MARKER LOG`). CPU = the same sum over the loops.

Own CPU time comes from /proc/PID/task/*/schedstat (nanoseconds), reaped children's
from cutime+cstime (clock ticks). The tmux server's CPU in each window is reported
beside (it serves the pollers' capture-pane calls, and pirun's list-sessions), and so
is the CPU of the sessions' exec wrappers, which run in both windows alike.
Prints one JSON object. `--quick` (CI): a 10 s window.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchutil import init_session_repo, wait_until_gone

TICK = os.sysconf("SC_CLK_TCK")

BASELINE_TMUX = (
    'while true; do tmux -L "$1" capture-pane -p -t "=$2:" | grep -q -- "$3" && break; '
    'sleep "$4"; done'
)
BASELINE_LOG = 'while true; do grep -q -- "$3" "$2" && break; sleep "$4"; done'


def cpu_seconds(pid: int, children: bool = True) -> float:
    """CPU seconds of `pid`: its threads' run time from /proc/PID/task/*/schedstat
    (nanoseconds), plus, with `children`, the utime+stime of the children it has
    reaped (cutime + cstime from /proc/PID/stat, in clock ticks)."""
    own = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                own += int((task / "schedstat").read_text().split()[0])
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return 0.0
    total = own / 1e9
    if children:
        # After the command name: cutime and cstime are fields 16 and 17 (1-based).
        fields = data.rpartition(b")")[2].split()
        total += (int(fields[13]) + int(fields[14])) / TICK
    return total


def tmux_server_pid(socket: str) -> int | None:
    out = subprocess.run(["tmux", "-L", socket, "display-message", "-p", "#{pid}"],
                         capture_output=True, text=True).stdout.strip()
    return int(out) if out.isdigit() else None


def wrapper_pids(rt: Any, size: int) -> list[int]:
    """The exec wrapper of each session (the session's own process)."""
    if rt.config.backend == "tmux":
        socket = rt.config.get("tmux.socket_name")
        out = subprocess.run(["tmux", "-L", socket, "list-panes", "-a", "-F", "#{pane_pid}"],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split() if p.isdigit()]
    pids = []
    for path in (rt.config.run_dir / "sessions").glob("*.json"):
        pids.append(int(json.loads(path.read_text())["pid"]))
    return pids


def window(pids: list[int], others: dict[str, list[int]], warmup: float,
           seconds: float) -> dict[str, float]:
    """CPU seconds used by `pids` (and each group of `others`) over `seconds`."""
    time.sleep(warmup)
    before = sum(cpu_seconds(p) for p in pids)
    before_others = {k: sum(cpu_seconds(p, children=False) for p in v) for k, v in others.items()}
    start = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    after = sum(cpu_seconds(p) for p in pids)
    result = {"cpu_seconds": round(after - before, 4), "window_seconds": round(elapsed, 2)}
    for key, group in others.items():
        used = sum(cpu_seconds(p, children=False) for p in group) - before_others[key]
        result[f"{key}_cpu_seconds"] = round(used, 4)
    # What watching costs in all: the watcher(s) and the tmux server serving them.
    result["cpu_seconds_with_tmux_server"] = round(
        result["cpu_seconds"] + result.get("tmux_server_cpu_seconds", 0.0), 4
    )
    result["cpu_ms_per_second"] = round(result["cpu_seconds"] / elapsed * 1000, 2)
    return result


def measure(backend: str, size: int, seconds: float, interval: float) -> dict[str, Any]:
    from pirun.launch import LaunchOptions, launch
    from pirun.log import configure_logging
    from pirun.runtime import Runtime

    configure_logging(0, json_output=False)
    # A process that outlives `wait_until_gone` must not fail the run after measuring.
    with tempfile.TemporaryDirectory(prefix="pirun-bench-watcher-",
                                     ignore_cleanup_errors=True) as tmp:
        repo = Path(tmp) / "repo"
        socket = f"pirun-bench-{os.getpid()}-watch"
        init_session_repo(repo, size, backend, socket, ["sleep", "3600"], "Idle.")
        rt = Runtime.load(repo)
        numbers = [str(n) for n in range(1, size + 1)]
        try:
            setup = time.monotonic()
            for number in range(1, size + 1):
                launch(rt, rt.fetch_issue(str(number)), LaunchOptions(ignore_blockers=True))
            # Each wrapper opens its log once it runs; then let the start-up settle.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not all(
                rt.config.log_path(n).exists() for n in numbers
            ):
                time.sleep(0.1)
            setup = time.monotonic() - setup
            others: dict[str, list[int]] = {"wrappers": wrapper_pids(rt, size)}
            if backend == "tmux" and (server := tmux_server_pid(socket)) is not None:
                others["tmux_server"] = [server]

            out = Path(tmp) / "wait.out"
            with open(out, "wb") as handle:
                waiter = subprocess.Popen(
                    [sys.executable, "-m", "pirun", "wait", *numbers,
                     "--interval", f"{interval:g}"],
                    cwd=repo, stdin=subprocess.DEVNULL, stdout=handle,
                    stderr=subprocess.DEVNULL,
                )
            started = time.monotonic()
            # Start-up (imports, configuration, plugins) is over once it prints its
            # first line; the warm-up then covers the first reconcile.
            while b"Waiting for" not in out.read_bytes() and time.monotonic() - started < 60:
                time.sleep(0.05)
            pirun = window([waiter.pid], others, warmup=1.0, seconds=seconds)
            pirun["cpu_seconds_total_incl_startup"] = round(cpu_seconds(waiter.pid), 3)
            pirun["process_count"] = 1
            waiter.send_signal(signal.SIGINT)
            waiter.wait(timeout=30)
            pirun["wall_seconds"] = round(time.monotonic() - started, 2)

            loops = []
            for number in range(1, size + 1):
                marker = f"###TASK_COMPLETE_{number}###"
                if backend == "tmux":
                    args = [BASELINE_TMUX, "baseline", socket,
                            rt.config.session_name(str(number)), marker, f"{interval:g}"]
                else:
                    args = [BASELINE_LOG, "baseline", "-", str(rt.config.log_path(str(number))),
                            marker, f"{interval:g}"]
                loops.append(subprocess.Popen(["bash", "-c", *args]))
            baseline = window([p.pid for p in loops], others, warmup=1.0, seconds=seconds)
            baseline["process_count"] = len(loops)
            for loop in loops:
                loop.kill()
                loop.wait()
        finally:
            if backend == "tmux":
                subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
            else:
                for name in rt.backend.list(rt.config.prefix):
                    rt.backend.kill(name)
            wait_until_gone(Path(tmp))
    return {
        "sessions": size,
        "setup_seconds": round(setup, 1),
        "pirun": pirun,
        "baseline": baseline,
        "baseline_to_pirun_cpu_ratio": (
            round(baseline["cpu_seconds"] / pirun["cpu_seconds"], 1)
            if pirun["cpu_seconds"] > 0 else None
        ),
        "baseline_to_pirun_cpu_ratio_with_tmux_server": (
            round(baseline["cpu_seconds_with_tmux_server"]
                  / pirun["cpu_seconds_with_tmux_server"], 1)
            if pirun["cpu_seconds_with_tmux_server"] > 0 else None
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50, help="idle sessions")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--interval", type=float, default=5.0,
                        help="pirun's fallback interval and the baseline's sleep")
    parser.add_argument("--backend", choices=["tmux", "process"], default=None)
    parser.add_argument("--quick", action="store_true", help="a 10 s window")
    args = parser.parse_args()
    if args.quick:
        args.window = 10.0
    backend = args.backend or ("tmux" if shutil.which("tmux") else "process")
    report = {
        "benchmark": "watcher",
        "backend": backend,
        "cpus": os.cpu_count(),
        "clock_tick_seconds": 1 / TICK,
        **measure(backend, args.size, args.window, args.interval),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
