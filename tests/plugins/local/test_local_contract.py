"""`pirun.testing.TrackerContract` for the local file tracker, with number keys and
with name keys."""

from __future__ import annotations

from typing import Any

import pytest
from pirun_local import write_issue

from pirun.testing import (
    BLOCKED_TITLE,
    CLOSED_TITLE,
    OPEN_BODY,
    OPEN_TITLE,
    ContractProject,
    TrackerContract,
)


class TestLocalTracker(TrackerContract):
    @pytest.fixture(params=[("1", "2", "3"), ("PROJ-1", "PROJ-2", "login-page")],
                    ids=["numbers", "names"])
    def contract_project(
        self, request: pytest.FixtureRequest, pirun_runtime: Any
    ) -> ContractProject:
        open_key, blocked_key, closed_key = request.param
        rt = pirun_runtime(tracker="local", repo="octo/app")
        write_issue(rt.config.root, open_key, OPEN_TITLE, body=OPEN_BODY)
        write_issue(rt.config.root, blocked_key, BLOCKED_TITLE, blocked_by=[open_key])
        write_issue(rt.config.root, closed_key, CLOSED_TITLE, state="closed")
        return ContractProject(
            rt.tracker, owner=rt, open_key=open_key, blocked_key=blocked_key, closed_key=closed_key,
            missing_key="404",
            spellings=(("#1", "1"), ("octo/app#1", "1"), ("other/repo#7", "other/repo#7")),
            not_keys=("", "   ", "a/b/c", "-x", "..", "two words", "#0"),
        )
