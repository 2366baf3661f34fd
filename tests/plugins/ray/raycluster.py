"""A real multi-node Ray cluster on this machine, for the Ray backend's tests.

Every node is a separate `ray start` (its own raylet process, its own resources);
all share one temporary directory so `ray stop` can find them, and every port is
chosen free, so a developer's own Ray cluster is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The head must not come up with Ray's fixed default ports (6379, 8265, 10001,
#: 52365...): a second cluster on the same machine would collide.
START_TIMEOUT = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ray_env() -> dict[str, str]:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    # The cluster is the test's, not one named by the developer's environment.
    for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):
        env.pop(name, None)
    return env


@dataclass
class Node:
    name: str
    resources: dict[str, float]
    #: The raylet's pid: killing it is losing the node.
    raylet_pid: int = 0


@dataclass
class Cluster:
    temp_dir: Path
    gcs_port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    nodes: list[Node] = field(default_factory=list)

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def _common(self, node: Node) -> list[str]:
        return [
            "--node-ip-address=127.0.0.1",
            "--num-cpus=1",
            f"--resources={json.dumps(node.resources)}",
            "--object-store-memory=100000000",
            "--disable-usage-stats",
            # Random ports for workers and agents: two nodes share this machine.
            "--min-worker-port=0",
            "--max-worker-port=0",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--metrics-export-port={free_port()}",
        ]

    def _raylets(self) -> dict[int, str]:
        """pid -> static resources of every raylet of this cluster."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if not args or not args[0].endswith(b"/raylet"):
                continue
            text = [a.decode(errors="replace") for a in args]
            if not any(str(self.temp_dir) in a for a in text):
                continue
            resources = next((a for a in text if a.startswith("--static_resource_list=")), "")
            found[int(entry.name)] = resources
        return found

    def _start(self, args: list[str], node: Node) -> None:
        before = set(self._raylets())
        proc = subprocess.run(
            # This Python's Ray, whatever `ray` on PATH is (CI runs from a venv).
            [sys.executable, "-m", "ray.scripts.scripts", "start", *args, *self._common(node)],
            env=ray_env(), capture_output=True, text=True, timeout=START_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"ray start failed for {node.name}:\n{proc.stdout}\n{proc.stderr}")
        new = set(self._raylets()) - before
        if len(new) != 1:
            raise RuntimeError(f"expected one new raylet for {node.name}, found {new}")
        node.raylet_pid = new.pop()
        self.nodes.append(node)

    def start_head(self, resources: dict[str, float]) -> Node:
        node = Node("head", resources)
        self._start(
            [
                "--head",
                f"--port={self.gcs_port}",
                f"--dashboard-port={self.dashboard_port}",
                "--dashboard-host=127.0.0.1",
                "--include-dashboard=true",
                f"--ray-client-server-port={free_port()}",
                f"--temp-dir={self.temp_dir}",
                # Notice a lost node within seconds, not the default half minute.
                '--system-config={"health_check_period_ms": 1000, '
                '"health_check_failure_threshold": 3}',
            ],
            node,
        )
        return node

    def add_worker(self, name: str, resources: dict[str, float]) -> Node:
        node = Node(name, resources)
        self._start([f"--address={self.gcs_address}"], node)
        return node

    def kill_node(self, node: Node) -> None:
        """Lose `node`: SIGKILL its raylet (if it still runs), and wait until the
        cluster counts it dead."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(node.raylet_pid, signal.SIGKILL)
        if node in self.nodes:
            self.nodes.remove(node)
            self.wait_for_nodes(len(self.nodes), exactly=True)

    def wait_for_nodes(self, count: int, timeout: float = 60, exactly: bool = False) -> None:
        """Until the cluster reports `count` (or more, unless `exactly`) live nodes and
        the job API answers."""
        from ray.job_submission import JobSubmissionClient

        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                client = JobSubmissionClient(self.dashboard_url)
                client.list_jobs()
                from ray.util.state import list_nodes

                alive = [n for n in list_nodes(address=self.dashboard_url) if n.state == "ALIVE"]
                if len(alive) == count or (len(alive) > count and not exactly):
                    return
                last = f"{len(alive)} live nodes"
            except Exception as exc:
                last = exc
            time.sleep(0.5)
        raise RuntimeError(f"the Ray cluster did not come up: {last}")

    def processes(self) -> set[int]:
        """Every process of this cluster: those naming its temp dir, and descendants."""
        parents: dict[int, int] = {}
        roots = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                stat = (entry / "stat").read_text()
                args = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            state, ppid = stat.rpartition(")")[2].split()[:2]
            if state == "Z":
                continue
            parents[pid] = int(ppid)
            # The Ray client server names only the GCS address.
            if str(self.temp_dir).encode() in args or re.search(
                rb"--address=[^\0]*:%d\0" % self.gcs_port, args
            ):
                roots.add(pid)
        found = set(roots)
        grew = True
        while grew:
            children = {pid for pid, ppid in parents.items() if ppid in found} - found
            found |= children
            grew = bool(children)
        found.discard(os.getpid())
        return found

    def stop(self) -> None:
        """Kill this cluster's processes only (`ray stop` would kill every Ray
        cluster on the machine, a developer's own included)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.processes():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 5
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
