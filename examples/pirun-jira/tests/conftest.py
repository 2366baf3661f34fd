"""Shared helpers. Fixture shapes: see fixtures/README.md (Atlassian's OpenAPI document)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pirun_jira.client import JiraClient

#: pirun's conformance suites (`TrackerContract`) and their fixtures.
pytest_plugins = ["pirun.testing"]

FIXTURES = Path(__file__).parent / "fixtures"
EMAIL = "dev@acme.test"
TOKEN = "ATATT3xFfGF0-sEcReT-tOkEn-1234567890"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Sleeps(list):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(httpserver, sleeps):  # type: ignore[no-untyped-def]
    c = JiraClient(httpserver.url_for("/"), EMAIL, TOKEN, timeout=5, max_retries=3,
                   max_wait=60, sleep=sleeps)
    yield c
    c.close()
