"""Fixtures for the Ray backend's tests: a real two-node Ray cluster and `pirun`
commands. Ray is imported only by the fixtures that need it, so the tests of what
happens without Ray run where Ray is not installed."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from raycluster import Cluster
from rayutil import Pirun

HEAD_RESOURCES = {"pirun_agent": 2, "head_node": 2}
WORKER_RESOURCES = {"pirun_agent": 2, "worker_node": 1}


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
def pirun_cli() -> Iterator[Pirun]:
    runner = Pirun()
    yield runner
    runner.close()
