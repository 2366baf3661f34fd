"""Fixtures for the end-to-end feature tests."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def agent_script(tmp_path: Path) -> Callable[[str], list[str]]:
    """Write a Python agent script; returns the `agent.command` argv running it."""
    counter = iter(range(1000))

    def make(source: str) -> list[str]:
        path = tmp_path / f"agent_{next(counter)}.py"
        path.write_text(source, encoding="utf-8")
        return [sys.executable, str(path), "{issue}", "{prompt_file}"]

    return make
