"""`pirun.testing.TrackerContract` for the GitHub tracker, over GraphQL and over the
REST fallback, against the fake GitHub."""

from __future__ import annotations

import pytest
from fakegithub import FakeGitHub, LoadRuntime

from pirun.testing import (
    BLOCKED_TITLE,
    CLOSED_TITLE,
    OPEN_BODY,
    OPEN_TITLE,
    ContractProject,
    TrackerContract,
)


class TestGitHubTracker(TrackerContract):
    @pytest.fixture(params=[True, False], ids=["graphql", "rest"])
    def contract_project(
        self, request: pytest.FixtureRequest, fake: FakeGitHub, load: LoadRuntime
    ) -> ContractProject:
        fake.install()
        fake.add("octo/app", 1, OPEN_TITLE, body=OPEN_BODY)
        fake.add("octo/app", 2, BLOCKED_TITLE, blocked_by=[1])
        fake.add("octo/app", 3, CLOSED_TITLE, state="CLOSED")
        rt = load(graphql=request.param)
        return ContractProject(
            rt.tracker, owner=rt, open_key="1", blocked_key="2", closed_key="3", missing_key="404",
            spellings=(("#1", "1"), ("octo/app#2", "2"), ("Octo/App#3", "3"),
                       ("other/repo#7", "other/repo#7")),
            not_keys=("", "   ", "PROJ-1", "#0", "a/b/c#3", "issue one"),
        )
