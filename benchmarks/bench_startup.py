"""Start-up cost: how long `pirun` takes to answer, and what each session's exec
wrapper costs while its agent runs.

Measured against the floor of the same machine in the same run: a bare
`python -S -c pass` (what no Python program can beat) and `python -c pass`.

* `pirun --version`, `pirun status`, `pirun list` in a small repository, and
  `pirun batch --dry-run` of 100 local issues: median wall time and CPU of `--repeat`
  runs each, and the ratio of the median to the bare start.
* the exec wrapper: `pirun run` on the process backend with an agent that sleeps;
  once the agent runs, the wrapper's CPU so far (its start) and its resident memory
  (RSS), over `--sessions` sessions.

Prints one JSON object. Goals (issue 18): the quick commands within 12x the bare
start, the dry run within 0.4 s, the wrapper within 60 ms of CPU and 15 MiB.
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

from benchutil import init_bench_repo, wait_until_gone

PIRUN = [sys.executable, "-m", "pirun"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of `argv`."""
    begin = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - begin
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        assert proc.stderr is not None
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(argv: list[str], cwd: Path, repeat: int) -> dict[str, float]:
    timed(argv, cwd)  # warm the page cache and the bytecode
    runs = [timed(argv, cwd) for _ in range(repeat)]
    return {
        "median_s": round(statistics.median(wall for wall, _ in runs), 4),
        "cpu_s": round(statistics.median(cpu for _, cpu in runs), 4),
    }


def _wrapper_pids(repo: Path) -> list[int]:
    found = []
    needle = str(repo).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"pirun.wrapper" in cmdline and needle in cmdline:
            found.append(int(entry.name))
    return found


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def screen_render() -> dict[str, float]:
    """What the wrapper pays when an agent pauses: pyte imported, 64 KiB of TUI output
    (the most it keeps) replayed on a 50x200 screen."""
    code = (
        "import time; t = time.process_time()\n"
        "from pirun.screen import TAIL_LIMIT, render\n"
        "row = lambda i: b'\\x1b[%d;1H\\x1b[32mline %d of agent output\\x1b[0m more text' "
        "% (i % 50 + 1, i)\n"
        "data = b''.join(row(i) for i in range(20000))[-TAIL_LIMIT:]\n"
        "render(data, (50, 200)); print(time.process_time() - t)\n"
        "import os; print(next(l.split()[1] for l in open(f'/proc/{os.getpid()}/status') "
        "if l.startswith('VmRSS')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    return {"cpu_ms": round(float(out[0]) * 1000, 1), "rss_mib": round(int(out[1]) / 1024, 1)}


def _cpu_and_rss(pid: int) -> tuple[float, float]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if line.startswith("VmRSS:"))
    return cpu, rss_kb / 1024


def wrapper_cost(work: Path, sessions: int) -> dict[str, Any]:
    """CPU and RSS of the exec wrappers of `sessions` running agents."""
    repo = work / "wrapped"
    init_bench_repo(repo)
    # Silent, so the wrappers only start: a quiet agent that has printed something
    # gets its screen rendered, which is measured apart (`screen_render`).
    agent = ["sleep", "30"]
    (repo / ".pirun.yaml").write_text(json.dumps({
        "tracker": "local", "backend": "process", "agent": {"command": agent},
        "parallel": {"max_concurrent": sessions},
    }))
    issues = repo / ".pirun" / "issues"
    issues.mkdir(parents=True)
    for n in range(1, sessions + 1):
        (issues / f"{n}.md").write_text(f"---\ntitle: Issue {n}\n---\nSleep.\n")
    cpu, rss = [], []
    try:
        for n in range(1, sessions + 1):
            subprocess.run([*PIRUN, "run", str(n), "--no-attach"], cwd=repo, check=True,
                           capture_output=True)
        deadline = time.monotonic() + 30
        # Started: every wrapper has forked its agent.
        while len([pid for pid in _wrapper_pids(repo) if _children(pid)]) < sessions:
            if time.monotonic() > deadline:
                raise SystemExit("the agents did not all start")
            time.sleep(0.01)
        time.sleep(0.5)  # idle: the wrappers have nothing to do but wait
        for pid in _wrapper_pids(repo):
            used, resident = _cpu_and_rss(pid)
            cpu.append(used)
            rss.append(resident)
    finally:
        subprocess.run([*PIRUN, "stop", "--all"], cwd=repo, capture_output=True)
        wait_until_gone(repo)
    if not cpu:
        raise SystemExit("no exec wrapper was found running")
    return {
        "sessions": len(cpu),
        "start_cpu_ms_median": round(statistics.median(cpu) * 1000, 1),
        "rss_mib_median": round(statistics.median(rss), 1),
        "rss_mib_max": round(max(rss), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs of each command")
    parser.add_argument("--sessions", type=int, default=5, help="exec wrappers measured")
    parser.add_argument("--quick", action="store_true", help="3 runs, 2 sessions")
    args = parser.parse_args()
    repeat, sessions = (3, 2) if args.quick else (args.repeat, args.sessions)

    work = Path(tempfile.mkdtemp(prefix="pirun-bench-startup-"))
    try:
        repo = work / "small"
        init_bench_repo(repo)
        socket = f"pirun-bench-startup-{os.getpid()}"
        (repo / ".pirun.yaml").write_text(json.dumps({
            "tracker": "local", "tmux": {"socket_name": socket},
        }))
        issues = repo / ".pirun" / "issues"
        issues.mkdir(parents=True)
        for n in range(1, 101):
            blockers = f"blocked_by: [{n - 1}]\n" if n % 10 != 1 else ""
            (issues / f"{n}.md").write_text(f"---\ntitle: Issue {n}\n{blockers}---\nWork.\n")

        floor = measure([sys.executable, "-S", "-c", "pass"], repo, repeat)
        python = measure([sys.executable, "-c", "pass"], repo, repeat)
        commands = {
            "version": [*PIRUN, "--version"],
            "status": [*PIRUN, "status"],
            "list": [*PIRUN, "list"],
            "batch_dry_run_100": [*PIRUN, "batch", *map(str, range(1, 101)), "--dry-run"],
        }
        report: dict[str, Any] = {
            "python_S_pass": floor,
            "python_pass": python,
        }
        for name, argv in commands.items():
            figures = measure(argv, repo, repeat)
            figures["x_bare_python"] = round(figures["median_s"] / floor["median_s"], 1)
            report[name] = figures
        report["wrapper"] = wrapper_cost(work, sessions)
        report["screen_render"] = screen_render()
        report["goals"] = {
            "quick_commands_x_bare_python": 12, "batch_dry_run_100_s": 0.4,
            "wrapper_start_cpu_ms": 60, "wrapper_rss_mib": 15,
        }
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
