"""Fixtures for the Ray backend's tests: a real two-node Ray cluster and `pirun`
commands. Ray is imported only by the fixtures that need it, so the tests of what
happens without Ray run where Ray is not installed."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from raycluster import Cluster, Node
from rayutil import Pirun

HEAD_RESOURCES = {"pirun_agent": 2, "head_node": 2}
#: `pool`: a resource the worker shares with the node-loss test's doomed node, so a
#: batch asking for it can run on either.
WORKER_RESOURCES = {"pirun_agent": 2, "worker_node": 1, "pool": 2}
DOOMED_RESOURCES = {"pirun_agent": 2, "pool": 2}


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Cluster]:
    """A head and a worker node, each its own `ray start`, with distinct resources."""
    pytest.importorskip("ray")
    # Short: Ray's unix socket paths live under it.
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="pirun-ray-")))
    try:
        cluster.start_head(HEAD_RESOURCES)
        cluster.add_worker("worker", WORKER_RESOURCES)
        cluster.wait_for_nodes(2)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def add_doomed_node(ray_cluster: Cluster) -> Iterator[Callable[[], Node]]:
    """Adds a node for a test that kills it (its raylet), when the test is ready for
    it (starting a node takes seconds, which the test can spend on other work). The
    node is killed afterwards in any case, so no later test finds its resources."""
    added: list[Node] = []

    def add() -> Node:
        node = ray_cluster.add_worker(f"doomed-{len(added)}", DOOMED_RESOURCES)
        added.append(node)
        ray_cluster.wait_for_nodes(len(ray_cluster.nodes))
        return node

    yield add
    for node in added:
        ray_cluster.kill_node(node)


@pytest.fixture
def pirun_cli() -> Iterator[Pirun]:
    runner = Pirun()
    yield runner
    runner.close()
