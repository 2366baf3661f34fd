"""Conformance suites for plugins: what every session backend, tracker and status
store must do, as pytest test classes a plugin's own tests subclass.

Use it as pytest's own `pytester` is used: load the plugin, subclass a contract,
and give it the one fixture it asks for::

    # conftest.py
    pytest_plugins = ["pirun.testing"]

    # test_my_tracker.py
    from pirun.testing import ContractProject, TrackerContract

    class TestMyTracker(TrackerContract):
        @pytest.fixture
        def contract_project(self, tmp_path):
            ...  # make a project holding the three contract issues
            return ContractProject(tracker, open_key=..., blocked_key=..., ...)

Every bundled backend, tracker and store runs these suites, as do the examples
(examples/pirun-screen, examples/pirun-jira). Installing `pirun[testing]` brings
pytest. The suites use real processes and files; nothing is mocked.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pirun.runtime import Runtime
from pirun.testing.backend import BackendContract, wait_until
from pirun.testing.store import StatusStoreContract
from pirun.testing.tracker import (
    BLOCKED_TITLE,
    CLOSED_TITLE,
    OPEN_BODY,
    OPEN_TITLE,
    ContractProject,
    TrackerContract,
)

__all__ = [
    "BLOCKED_TITLE",
    "CLOSED_TITLE",
    "OPEN_BODY",
    "OPEN_TITLE",
    "BackendContract",
    "ContractProject",
    "StatusStoreContract",
    "TrackerContract",
    "pirun_runtime",
    "wait_until",
]


@pytest.fixture
def pirun_runtime(tmp_path: Path) -> Callable[..., Runtime]:
    """Make the runtime of a fresh git repository whose `.pirun.yaml` holds the
    given values: `pirun_runtime(tracker="jira", jira={"url": ...})`. Its
    `config` is what a plugin's factories receive."""

    def make(**values: Any) -> Runtime:
        root = tmp_path / "repo"
        if not root.exists():
            root.mkdir()
            subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
        (root / ".pirun.yaml").write_text(yaml.safe_dump(values), encoding="utf-8")
        return Runtime.load(root)

    return make
